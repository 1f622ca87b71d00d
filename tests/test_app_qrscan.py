"""Scanning the enrolment QR code, without a screen: the link's one format (built by
the dashboard, parsed by the app), its refusals, and zbar reading camera-like frames
of the server's own QR codes. A missing zbar fails here; it never skips."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from a0core.enrol_uri import (
    ALPHABET,
    CODE_LENGTH,
    EnrolUri,
    build_enrol_uri,
    parse_enrol_uri,
)
from a0core.errors import A0Error, catalogue
from clients.kivy_app.core import qrscan
from clients.kivy_app.core.qrscan import (
    GREY,
    RGBA,
    Frame,
    grey_plane,
    half_plane,
    read_enrolment,
)
from server.security.totp import provisioning_uri
from tests.support.qr_images import grey_frame, photo, qr_image, texture_frame

SERVER = "http://127.0.0.1:5000"
CODE = "K7PQ-XM3T-9W"
URI = build_enrol_uri(SERVER + "/", CODE)
TOTP_URI = provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DP", "lan.tran")  # the other QR code


@pytest.fixture(scope="module", autouse=True)
def zbar() -> None:
    if not qrscan.decoder_available():  # a missing real part fails; it never skips
        pytest.fail("zbar is missing: pip install pyzbar and Debian's libzbar0 "
                    "(scripts/system-deps.sh installs it)", pytrace=False)


# ------------------------------------------------------------------- the link


def test_the_dashboards_link_has_one_stable_form_and_parses_back() -> None:
    assert URI == "a0sync://enrol?server=http://127.0.0.1:5000&code=K7PQXM3T9W"
    scanned = parse_enrol_uri(URI)
    assert scanned == EnrolUri(SERVER, "K7PQXM3T9W") and scanned.shown_code == CODE
    # a path, a port and characters a query would split on survive the round trip
    odd = "https://sở-y-tế.example.vn:8443/a0&sync=1"
    assert parse_enrol_uri(build_enrol_uri(odd, "k7pqxm3t9w")).server == odd


@given(server=st.builds(
           lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
           st.sampled_from(["http", "https", "HTTPS"]),
           st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}",
                         fullmatch=True),
           st.sampled_from(["", ":80", ":5000", ":65535"]),
           st.sampled_from(["", "/", "/a0sync", "/x/y z", "/%7E&=+"])),
       code=st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH))
def test_every_link_the_dashboard_builds_parses_to_what_it_was_built_from(
        server: str, code: str) -> None:
    if " " in server:
        with pytest.raises(A0Error) as refused:
            build_enrol_uri(server, code)
        assert refused.value.code == "enrol_qr_server_invalid"
        return
    assert parse_enrol_uri(build_enrol_uri(server, code)) == EnrolUri(server.rstrip("/"), code)


@pytest.mark.parametrize(("text", "code"), [
    ("https://example.org/?server=http://127.0.0.1:5000&code=K7PQXM3T9W",
     "enrol_qr_not_enrolment"),
    ("a0sync://pair?server=http://127.0.0.1:5000&code=K7PQXM3T9W", "enrol_qr_not_enrolment"),
    ("a0sync://enrol", "enrol_qr_not_enrolment"),
    ("a0sync://enrol/?server=http://127.0.0.1:5000&code=K7PQXM3T9W", "enrol_qr_not_enrolment"),
    ("a0sync://enrol?server=http://127.0.0.1:5000&code=K7PQXM3T9W&pin=123456",
     "enrol_qr_not_enrolment"),
    ("a0sync://enrol?server=http://127.0.0.1:5000;code=K7PQXM3T9W", "enrol_qr_code_invalid"),
    ("a0sync://enrol?" + "a=1&" * 300, "enrol_qr_not_enrolment"),
    ("otpauth://totp/a0sync:lan?secret=JBSWY3DPEHPK3PXPJBSWY3DP", "enrol_qr_not_enrolment"),
    ("a0sync://enrol?code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=ftp://127.0.0.1&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=file:///etc/passwd&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=javascript:alert(1)&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=127.0.0.1:5000&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://quantri:mk@127.0.0.1&code=K7PQXM3T9W",
     "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:50a0&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://x.vn%3Fgo%3Devil&code=K7PQXM3T9W",
     "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://x.vn%0A&code=K7PQXM3T9W", "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://a.vn&server=http://b.vn&code=K7PQXM3T9W",
     "enrol_qr_server_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:5000", "enrol_qr_code_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:5000&code=", "enrol_qr_code_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:5000&code=K7PQXM3T9", "enrol_qr_code_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:5000&code=K7PQXM3T9WW", "enrol_qr_code_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:5000&code=K7PQXM3T0O", "enrol_qr_code_invalid"),
    ("a0sync://enrol?server=http://127.0.0.1:5000&code=K7PQXM3T9W&code=K7PQXM3T9W",
     "enrol_qr_code_invalid"),
])
def test_anything_but_our_link_is_refused_with_a_stable_code(text: str, code: str) -> None:
    with pytest.raises(A0Error) as refused:
        parse_enrol_uri(text)
    error = refused.value
    assert error.code == code
    assert error.vi == catalogue()[code]["vi"] and error.en == catalogue()[code]["en"]
    assert "mã" in error.vi.lower() and error.vi != error.en


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50), st.none(), st.integers()))
def test_random_text_is_refused_never_crashes(text: object) -> None:
    try:
        parsed = parse_enrol_uri(text)
    except A0Error as error:
        assert error.code.startswith("enrol_qr_")
    else:  # only our link parses, and then to a valid code
        assert isinstance(text, str) and text.lower().startswith("a0sync://enrol?")
        assert len(parsed.code) == CODE_LENGTH


def test_the_dashboard_cannot_build_a_link_the_app_would_refuse() -> None:
    for server, code, refusal in (("ftp://127.0.0.1", CODE, "enrol_qr_server_invalid"),
                                  ("http://127.0.0.1/?x=1", CODE, "enrol_qr_server_invalid"),
                                  (SERVER, "ABCD-EFGH-J", "enrol_qr_code_invalid")):
        with pytest.raises(A0Error) as refused:
            build_enrol_uri(server, code)
        assert refused.value.code == refusal


# ----------------------------------------------------------------- the frames


def test_grey_plane_takes_green_and_subsamples_large_frames() -> None:
    rgba = bytes(v for i in range(6 * 4) for v in (200, i, 7, 255))  # green = pixel index
    assert grey_plane(Frame(rgba, 6, 4)) == (bytes(range(24)), 6, 4)
    assert grey_plane(Frame(rgba, 6, 4), max_side=3) == (bytes([0, 2, 4, 12, 14, 16]), 3, 2)
    assert grey_plane(Frame(rgba, 6, 4, flip=True), max_side=3) == (
        bytes([12, 14, 16, 0, 2, 4]), 3, 2)
    assert grey_plane(Frame(rgba, 6, 4, flip=True))[0][:6] == bytes(range(18, 24))
    grey = bytes(range(35))
    assert grey_plane(Frame(grey, 7, 5, GREY), max_side=3) == (
        bytes([0, 3, 6, 21, 24, 27]), 3, 2)
    with pytest.raises(ValueError):
        Frame(rgba, 5, 4, RGBA)
    # the 2x2 mean, odd last row and column dropped, no carry between neighbours
    assert half_plane(bytes([0, 4, 8, 12, 9, 4, 8, 12, 16, 9, 7, 7, 7, 7, 7]), 5, 3) == (
        bytes([4, 12]), 2, 1)
    assert half_plane(bytes([255, 255, 255, 255, 1, 2, 3, 6]), 4, 2) == (bytes([128, 129]), 2, 1)


@pytest.mark.parametrize(("name", "kw"), [
    ("plain", {}),
    ("small", {"zoom": 0.7}),
    ("filling the view", {"zoom": 2.5}),
    ("quarter turn", {"angle": 90}),
    ("tilted", {"angle": 23}),
    ("upside down and tilted", {"angle": 197}),
    ("dim, low contrast", {"dark": 105, "light": 150}),
    ("noisy", {"noise": 45}),
    ("all at once", {"zoom": 1.2, "angle": -14, "dark": 70, "light": 175, "noise": 30,
                     "blur": 0.8}),
])
def test_the_dashboards_qr_reads_from_a_camera_like_frame(name: str, kw: dict) -> None:
    picture = photo(qr_image(URI), **kw)
    assert read_enrolment(texture_frame(picture)) == EnrolUri(SERVER, "K7PQXM3T9W"), name
    assert read_enrolment(grey_frame(picture)) == EnrolUri(SERVER, "K7PQXM3T9W"), name
    # a mirrored frame read flipped is the picture itself again
    mirrored = texture_frame(picture, flip=True)
    assert read_enrolment(replace(mirrored, flip=True)) == EnrolUri(SERVER, "K7PQXM3T9W"), name


def test_a_large_frame_is_read_after_subsampling() -> None:
    picture = photo(qr_image(URI), size=(1920, 1080), zoom=2.0, angle=8, noise=20)
    assert grey_plane(texture_frame(picture))[1:] == (640, 360)
    assert read_enrolment(texture_frame(picture)) == EnrolUri(SERVER, "K7PQXM3T9W")


def test_another_qr_is_refused_with_its_reason_and_no_qr_is_nothing() -> None:
    totp = photo(qr_image(TOTP_URI), angle=10)
    with pytest.raises(A0Error) as refused:
        read_enrolment(texture_frame(totp))
    assert refused.value.code == "enrol_qr_not_enrolment"
    assert "không phải mã đăng ký" in refused.value.vi
    forged = photo(qr_image("a0sync://enrol?server=ftp://10.0.0.1&code=K7PQXM3T9W"))
    with pytest.raises(A0Error) as refused:
        read_enrolment(texture_frame(forged))
    assert refused.value.code == "enrol_qr_server_invalid"
    assert read_enrolment(texture_frame(photo(Image.new("L", (8, 8), 255), noise=60))) is None
    # beside a foreign QR code, ours is the one taken
    both = photo(qr_image(TOTP_URI), size=(900, 480))
    both.paste(qr_image(URI), (620, 150))
    assert read_enrolment(texture_frame(both)) == EnrolUri(SERVER, "K7PQXM3T9W")


def test_a_missing_decoder_is_a_refusal_the_screen_can_show(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_zbar(name: str, *args: object, **kw: object) -> object:
        if name.startswith("pyzbar"):
            raise ImportError("Unable to find zbar shared library")
        return real_import(name, *args, **kw)

    qrscan._zbar.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_zbar)
    try:
        assert not qrscan.decoder_available()
        with pytest.raises(A0Error) as missing:
            read_enrolment(texture_frame(photo(qr_image(URI))))
        assert missing.value.code == "app_qr_decoder_missing" and "nhập mã" in missing.value.vi
    finally:
        monkeypatch.undo()
        qrscan._zbar.cache_clear()
    assert qrscan.decoder_available()
