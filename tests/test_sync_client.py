"""The device's sync client against a tiny standard-library server, and its retries.

The fake server speaks docs/protocol.md with the real envelope functions and the
real key store, so a round trip here exercises the same bytes the Flask server
will see; retry and refusal handling is tested with an injected transport.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import random
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from a0core.envelope import (
    DeviceKeys,
    ServerPublicKey,
    b64d,
    b64e,
    canonical,
    op_hash_valid,
    open_batch,
    parse_envelope,
    seal_to_device,
    sign_receipt,
    verify_request,
)
from a0core.errors import A0Error
from a0core.hlc import HybridClock
from a0core.sync_client import (
    HttpResponse,
    RemoteError,
    RetryPolicy,
    SyncClient,
    TransportError,
    batch_file_name,
    batches_of,
    export_batch_file,
    make_op,
    refusal,
    schemas_used,
    seal,
    urllib_transport,
    verdict_warnings,
)
from server.security.keys import KeyStore, ServerKey

ENTITY = "11111111-1111-4111-8111-111111111111"
CODE = "ABCD-EFGH-JK"


def ops_from(first: int, n: int, form: str = "member", version: int = 1) -> list[dict[str, Any]]:
    return [make_op(s, 1000 + s, "upsert", form, version, ENTITY, {"full_name": f"Lan {s}"})
            for s in range(first, first + n)]


# ------------------------------------------------------------------ fake server


class FakeServer:
    """Just enough of the protocol's server side to talk to the client over HTTP."""

    def __init__(self, instance: Path) -> None:
        self.keys = KeyStore(instance)
        self.devices: dict[str, dict[str, Any]] = {}
        self.enrolments: dict[str, dict[str, Any]] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[int] = []  # statuses to answer before working normally
        self.lose_answers = 0  # do the work, then answer 502 as a broken proxy would
        self.redirect = False
        self.server_hlc = 5_000_000

    def handle(self, method: str, target: str, headers: Any, body: bytes
               ) -> tuple[int, dict[str, str], bytes]:
        self.requests.append((method, target))
        if self.fail_next:
            return self.fail_next.pop(0), {"Retry-After": "0"}, b"<html>busy</html>"
        if self.lose_answers:
            self.lose_answers -= 1
            self.dispatch(method, target, headers, body)
            return 502, {}, b"Bad Gateway"
        return self.dispatch(method, target, headers, body)

    def dispatch(self, method: str, target: str, headers: Any, body: bytes
                 ) -> tuple[int, dict[str, str], bytes]:
        if self.redirect:
            return 302, {"Location": "http://elsewhere.invalid/"}, b""
        try:
            if method == "POST" and target == "/api/v1/devices/enrol":
                return self._json(200, self.enrol(json.loads(body)))
            if method == "POST" and target == "/api/v1/sync/batches":
                return self._json(200, self.batch(body))
            if method == "GET" and target.startswith("/api/v1/sync/pull?"):
                return 200, {"Content-Type": "application/json"}, self.pull(target, headers)
        except A0Error as error:
            return self._json(400, {"error": error.to_dict()})
        return self._json(404, {"error": {"code": "not_found", "message_vi": "Không có",
                                          "message_en": "Not found"}})

    @staticmethod
    def _json(status: int, doc: Any) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(doc).encode()

    def enrol(self, request: dict[str, Any]) -> dict[str, Any]:
        previous = self.enrolments.get(request["code"])
        if previous is not None:  # idempotent retry of the same enrolment
            return previous
        device_id = str(uuid.uuid4())
        self.devices[device_id] = request
        response = {"device_id": device_id,
                    "collaborator": {"id": 7, "full_name": "Trần Thị Lan"},
                    "area": {"code": "12619.03.1", "name": "Thôn 1"},
                    "commune": {"code": "12619", "name": "Xã Tân Phú"},
                    "province": {"code": "33", "name": "Hưng Yên"},
                    "server_key": self.keys.public().to_dict(), "server_hlc": self.server_hlc}
        self.enrolments[request["code"]] = response
        return response

    def batch(self, body: bytes) -> dict[str, Any]:
        opened = open_batch(
            body, max_bytes=1 << 20,
            device_sign_key_for=lambda d: self.devices[d]["sign_public_key"],
            server_box_private_for=lambda kid: self.keys.get(kid).box_private)
        header = opened.header
        if header["batch"] in self.receipts:
            return self.receipts[header["batch"]]
        assert all(op_hash_valid(op) for op in opened.ops)
        receipt = {"v": 1, "type": "receipt", "device": header["device"],
                   "batch": header["batch"], "received_at": "2026-11-23T06:43:00Z",
                   "server_hlc": self.server_hlc, "highest_contiguous_seq": header["seq"][1],
                   "verdicts": [{"seq": op["seq"], "verdict": "applied"} for op in opened.ops]}
        key = self.keys.get(header["kid"])
        doc = sign_receipt(receipt, key.sign_private, key.kid)
        self.receipts[header["batch"]] = doc
        return doc

    def pull(self, target: str, headers: Any) -> bytes:
        device_id = headers["X-A0-Device"]
        device = self.devices[device_id]
        verify_request("GET", target, b"", headers, device["sign_public_key"])
        query = dict(part.split("=", 1) for part in target.split("?", 1)[1].split("&"))
        key = self.keys.get(query["kid"])
        cursor = int(query["cursor"])
        page = {"changes": [{"seq": cursor + 1, "kind": "member", "id": ENTITY,
                             "data": {"full_name": "Lan"}, "clocks": {}, "deleted": False,
                             "merged_into": None}],
                "verdicts": [], "cursor": cursor + 1, "more": cursor + 1 < 3,
                "server_hlc": self.server_hlc, "schemas": {"hash": "x"},
                "server_key": self.keys.public().to_dict()}
        return seal_to_device(page, device["box_public_key"], key.sign_private, key.kid,
                              device_id=device_id, hlc=self.server_hlc)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeServer, str]]:
    state = FakeServer(tmp_path / "instance")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = state.handle(self.command, self.path, self.headers, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def no_sleep() -> RetryPolicy:
    return RetryPolicy(attempts=4, sleep=lambda _s: None, rng=random.Random(1))


def enrolled(fake: tuple[FakeServer, str], **options: Any) -> SyncClient:
    _, url = fake
    keys = DeviceKeys.generate()
    response = SyncClient.enrol(url, CODE, keys, "Samsung A05 của chị Lan", 1, retry=no_sleep())
    return SyncClient.from_enrolment(url, response, keys, retry=no_sleep(), **options)


# ------------------------------------------------------------ operations, files


def test_make_op_hashes_and_omits_missing_base() -> None:
    op = make_op(1, 5, "upsert", "member", 1, ENTITY, {"full_name": "Trần Thị Lan"})
    assert "base" not in op and op_hash_valid(op)
    with_base = make_op(2, 6, "upsert", "member", 1, ENTITY, {"full_name": "Lan"},
                        base={"full_name": (5, "dev-a")})
    assert with_base["base"] == {"full_name": [5, "dev-a"]} and op_hash_valid(with_base)
    assert json.loads(canonical(with_base)) == with_base  # the hash survives transport
    for bad in ({"type": "nope"}, {"seq": 0}, {"hlc": -1}):
        args = {"seq": 1, "hlc": 1, "type": "upsert", **bad}
        with pytest.raises(ValueError):
            make_op(args["seq"], args["hlc"], args["type"], "member", 1, ENTITY, {})


def test_batches_split_at_gaps_and_size() -> None:
    ops = [*ops_from(1, 5), *ops_from(8, 2)]
    runs = batches_of(list(reversed(ops)), max_ops=3)
    assert [[o["seq"] for o in run] for run in runs] == [[1, 2, 3], [4, 5], [8, 9]]


def test_seal_fills_the_header() -> None:
    keys = DeviceKeys.generate()
    server_key = ServerKey.generate()
    ops = [*ops_from(4, 2), *ops_from(6, 1, form="birth"), *ops_from(7, 1, version=2)]
    sealed = seal(ops, device_id="dev-a", keys=keys, server_key=server_key.public(), hlc=9)
    header = sealed.header
    assert header["seq"] == [4, 7] and header["count"] == 4 and header["hlc"] == 9
    assert header["schemas"] == {"member": 2, "birth": 1} == schemas_used(ops)
    assert str(uuid.UUID(header["batch"])) == header["batch"]
    assert parse_envelope(sealed.envelope).header == header
    again = seal(ops, device_id="dev-a", keys=keys, server_key=server_key.public(), hlc=9,
                 batch_id=header["batch"])
    assert again.header["batch"] == header["batch"] and again.envelope != sealed.envelope


def test_export_batch_file_is_atomic(tmp_path: Path) -> None:
    header = {"device": "3f1c2a9e-0b7d-4e8a", "seq": [1, 20]}
    name = batch_file_name(header)
    assert name == "a0sync-3f1c2a9e-0b7-0000001-0000020.a0b"
    path = export_batch_file(tmp_path / name, b"first")
    export_batch_file(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left
    with pytest.raises(FileNotFoundError):
        export_batch_file(tmp_path / "missing" / name, b"x")


# --------------------------------------------------------------- round trips


def test_enrol_send_and_pull_over_http(fake: tuple[FakeServer, str]) -> None:
    state, _ = fake
    clock = HybridClock(now_ms=lambda: 10)
    client = enrolled(fake, clock=clock)
    assert client.device_id in state.devices
    assert client.server_key == state.keys.public()

    sealed = client.seal(ops_from(1, 3))
    receipt = client.send_batch(sealed.envelope)
    assert receipt["batch"] == sealed.header["batch"]
    assert [v["verdict"] for v in receipt["verdicts"]] == ["applied"] * 3
    assert clock.last >= state.server_hlc  # the device absorbed the server's clock
    assert client.send_batch(sealed.envelope) == receipt  # a re-send: the same receipt

    cursor, pages = 0, []
    while True:
        page = client.pull(cursor, limit=100)
        pages.append(page)
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert [p["cursor"] for p in pages] == [1, 2, 3]
    assert state.requests[-1][1].startswith("/api/v1/sync/pull?cursor=2&limit=100&kid=")


def test_enrol_retry_is_safe_when_the_answer_is_lost(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    state.lose_answers = 1
    keys = DeviceKeys.generate()
    response = SyncClient.enrol(url, CODE, keys, "máy", 1, retry=no_sleep())
    assert len(state.devices) == 1 and response["device_id"] in state.devices
    assert [r[1] for r in state.requests].count("/api/v1/devices/enrol") == 2


def test_rotation_reaches_the_device_through_pull(fake: tuple[FakeServer, str]) -> None:
    state, _ = fake
    client = enrolled(fake)
    old = client.server_key
    before = client.seal(ops_from(1, 2))
    new = state.keys.rotate()
    client.pull(0)
    assert client.server_key.kid == new.kid != old.kid
    assert set(client.known_server_keys) == {old.kid, new.kid}
    # a batch sealed before the rotation still opens, and its receipt is signed by the old key
    receipt = client.send_batch(before.envelope)
    assert receipt["kid"] == old.kid
    after = client.seal(ops_from(3, 1))
    assert after.header["kid"] == new.kid
    assert client.send_batch(after.envelope)["kid"] == new.kid


def test_server_refusal_raises_its_code(fake: tuple[FakeServer, str]) -> None:
    state, _ = fake
    client = enrolled(fake)
    sealed = client.seal(ops_from(1, 2))
    doc = json.loads(sealed.envelope)
    raw = bytearray(b64d(doc["ciphertext"]))
    raw[0] ^= 1
    tampered = canonical({**doc, "ciphertext": b64e(bytes(raw))})
    count = len(state.requests)
    with pytest.raises(RemoteError) as info:
        client.send_batch(tampered)
    assert info.value.code == "batch_signature_invalid" and info.value.status == 400
    assert "Chữ ký" in info.value.vi
    assert len(state.requests) == count + 1  # a refusal is not retried


def test_receipt_must_be_signed_and_match(fake: tuple[FakeServer, str]) -> None:
    state, _ = fake
    client = enrolled(fake)
    first = client.seal(ops_from(1, 1))
    client.send_batch(first.envelope)
    second = client.seal(ops_from(2, 1))
    state.receipts[second.header["batch"]] = state.receipts[first.header["batch"]]
    with pytest.raises(A0Error) as info:
        client.send_batch(second.envelope)
    assert info.value.code == "receipt_mismatch"
    forged = json.loads(json.dumps(state.receipts[first.header["batch"]]))
    forged["receipt"]["verdicts"][0]["verdict"] = "duplicate"
    state.receipts[second.header["batch"]] = forged
    with pytest.raises(A0Error) as info:
        client.send_batch(second.envelope)
    assert info.value.code == "receipt_signature_invalid"


def test_pull_refuses_pages_it_cannot_trust(fake: tuple[FakeServer, str]) -> None:
    client = enrolled(fake)
    impostor = ServerPublicKey(client.server_key.kid, DeviceKeys.generate().box_public_key,
                               DeviceKeys.generate().sign_public_key)
    client.server_key = impostor
    client.known_server_keys = {impostor.kid: impostor}
    with pytest.raises(A0Error) as info:
        client.pull(0)
    assert info.value.code == "response_signature_invalid"


def test_redirects_are_not_followed(fake: tuple[FakeServer, str]) -> None:
    state, _ = fake
    client = enrolled(fake)
    state.redirect = True
    with pytest.raises(A0Error) as info:
        client.pull(0)
    assert info.value.code == "server_response_unexpected" and "302" in info.value.en


def test_5xx_is_retried_over_http(fake: tuple[FakeServer, str]) -> None:
    state, _ = fake
    client = enrolled(fake)
    state.fail_next = [503, 500]
    assert client.pull(0)["cursor"] == 1
    state.fail_next = [503] * 10
    with pytest.raises(A0Error) as info:
        client.pull(0)
    assert info.value.code == "server_unavailable" and "503" in info.value.vi


# ------------------------------------------------------ injected transports


class Script:
    """A transport answering from a list: responses, or exceptions to raise."""

    def __init__(self, *answers: HttpResponse | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, method: str, url: str, headers: Any, body: bytes | None,
                 timeout: float) -> HttpResponse:
        self.calls.append((method, url, dict(headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(transport: Script, sleeps: list[float], attempts: int = 4) -> SyncClient:
    retry = RetryPolicy(attempts=attempts, base_delay=1.0, max_delay=8.0, sleep=sleeps.append,
                        rng=random.Random(7))
    return SyncClient("https://a0sync.example.vn", "dev-a", DeviceKeys.generate(),
                      ServerKey.generate().public(), 5.0, transport=transport, retry=retry)


def test_network_errors_retry_with_backoff_then_give_up() -> None:
    sleeps: list[float] = []
    script = Script(*[TransportError("down")] * 4)
    client = _client(script, sleeps)
    with pytest.raises(A0Error) as info:
        client.pull(0)
    assert info.value.code == "network_unavailable"
    assert len(script.calls) == 4 and len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= min(8.0, 1.0 * 2 ** attempt)
    expected = "https://a0sync.example.vn/api/v1/sync/pull?cursor=0&limit=2000&kid="
    assert script.calls[0][1] == expected + client.server_key.kid + "&clocks=packed"
    assert "X-A0-Signature" in script.calls[0][2]


def test_429_honours_retry_after_and_4xx_is_not_retried() -> None:
    sleeps: list[float] = []
    error = {"error": {"code": "device_revoked", "message_vi": "Máy đã bị thu hồi",
                       "message_en": "This device was revoked"}}
    script = Script(HttpResponse(429, {"Retry-After": "5"}, b""),
                    HttpResponse(403, {}, json.dumps(error).encode()))
    with pytest.raises(RemoteError) as info:
        _client(script, sleeps).pull(0)
    assert info.value.code == "device_revoked" and info.value.status == 403
    assert info.value.vi == "Máy đã bị thu hồi" and info.value.en == "This device was revoked"
    assert info.value.to_dict()["code"] == "device_revoked"
    assert sleeps[0] >= 5 and len(script.calls) == 2


def test_phones_told_the_same_retry_after_come_back_spread_out() -> None:
    """An outage answers every phone ``Retry-After: 15``: each waits at least that, and
    not all in the same second (the old rule, max(jitter, Retry-After), made them all
    wait exactly 15 s and come back together)."""
    waits = [RetryPolicy(rng=random.Random(seed)).delay(0, retry_after=15) for seed in range(200)]
    assert min(waits) >= 15 and max(waits) <= 30
    per_second = [sum(1 for w in waits if s <= w < s + 1) for s in range(15, 30)]
    assert max(per_second) <= 40, per_second  # about 200 / 15 a second, never most of them
    later = [RetryPolicy(rng=random.Random(seed)).delay(4, retry_after=3) for seed in range(50)]
    assert min(later) >= 3 and max(later) > 8  # a long backoff still spreads above the floor


def test_retry_delays_are_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, rng=random.Random(3))
    assert all(0 <= policy.delay(n) <= 4.0 for n in range(20))
    assert policy.delay(0, retry_after=600) == 4.0


@pytest.mark.parametrize("body", [b"", b"<html>Bad</html>", b'{"error": "x"}',
                                  b'{"error": {"code": "Bad Code"}}', b"[]"])
def test_unreadable_refusals(body: bytes) -> None:
    error = refusal(HttpResponse(400, {}, body))
    assert error.code == "server_response_unexpected" and "400" in error.en


def test_known_code_without_messages_uses_the_catalogue() -> None:
    error = refusal(HttpResponse(413, {}, b'{"error": {"code": "batch_malformed"}}'))
    assert isinstance(error, RemoteError) and error.code == "batch_malformed"
    assert error.vi.startswith("Gói dữ liệu")


def test_a_warning_without_its_words_reads_as_a_sentence_with_the_code_as_a_note() -> None:
    """A newer server's warning, or a known one whose words need its parameters, sent
    without its messages: a general sentence saying what to do, never the code alone."""
    verdict = {"verdict": "applied", "code": "record_warnings", "warnings": [
        {"code": "household_far_away", "field": "address"},
        {"code": "personal_id_sex_mismatch", "message_vi": "", "message_en": 3},
        {"code": "personal_id_year_mismatch", "message_vi": "Năm sinh?", "message_en": "Year?"}]}
    far, sex, year = verdict_warnings(verdict)
    assert far["field"] == "address" and far["message_vi"].startswith("Máy chủ đã nhận")
    assert "(mã: household_far_away)" in far["message_vi"]
    assert "(code: household_far_away)" in far["message_en"]
    assert "{" not in sex["message_vi"] + sex["message_en"]
    assert "personal_id_sex_mismatch" in sex["message_vi"]
    assert (year["message_vi"], year["message_en"]) == ("Năm sinh?", "Year?")


def test_2xx_that_is_not_a_receipt() -> None:
    sleeps: list[float] = []
    for body in (b"not json", b"[]"):
        client = _client(Script(HttpResponse(200, {}, body)), sleeps)
        sealed = client.seal(ops_from(1, 1))
        with pytest.raises(A0Error) as info:
            client.send_batch(sealed.envelope)
        assert info.value.code == "response_malformed"


def test_only_https_except_on_this_machine() -> None:
    keys = DeviceKeys.generate()
    for url in ("http://a0sync.example.vn", "ftp://x", "a0sync.example.vn"):
        with pytest.raises(A0Error) as info:
            SyncClient.enrol(url, CODE, keys, "x", 1, transport=Script())
        assert info.value.code == "server_address_insecure"
    for url in ("http://127.0.0.1:5000", "http://localhost:5000/", "http://[::1]:8000"):
        script = Script(TransportError("down"))
        with pytest.raises(A0Error):
            SyncClient.enrol(url, CODE, keys, "x", 1, transport=script,
                             retry=RetryPolicy(attempts=1))
        assert script.calls[0][1].endswith("/api/v1/devices/enrol")
        assert "//api" not in script.calls[0][1]


# ------------------------------------------------------------------- HTTPS


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_certificates_are_verified(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = json.dumps({"error": {"code": "enrol_code_invalid", "message_vi": "Mã sai",
                                            "message_en": "Wrong code"}}).encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    keys = DeviceKeys.generate()
    try:
        calls = 0

        def counting(*args: Any) -> HttpResponse:
            nonlocal calls
            calls += 1
            return default(*args)

        default = urllib_transport()  # the system's CAs: a self-signed server is refused
        with pytest.raises(A0Error) as info:
            SyncClient.enrol(url, CODE, keys, "x", 1, transport=counting, retry=no_sleep())
        assert info.value.code == "server_certificate_invalid" and calls == 1  # no retry

        trusting = ssl.create_default_context(cafile=str(cert))
        with pytest.raises(RemoteError) as refused:
            SyncClient.enrol(url, CODE, keys, "x", 1, transport=urllib_transport(trusting),
                             retry=no_sleep())
        assert refused.value.code == "enrol_code_invalid" and refused.value.vi == "Mã sai"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_request_that_left_whole_but_got_no_answer_is_said_so() -> None:
    """A line that breaks after the request went out (the server may have acted on it)
    is not "no network": the app must not call what it sent unsent, nor sent what
    never left (issue 15)."""
    sleeps: list[float] = []
    script = Script(TransportError("down"), TransportError("timed out", reached=True),
                    HttpResponse(503, {}, b""), TransportError("down"))
    with pytest.raises(A0Error) as info:
        _client(script, sleeps).pull(0)
    assert info.value.code == "server_no_answer" and "trả lời" in info.value.vi
    script = Script(*[TransportError("down")] * 3, HttpResponse(503, {}, b""))
    with pytest.raises(A0Error) as info:
        _client(script, sleeps).pull(0)
    assert info.value.code == "server_unavailable"  # it answered: busy, nothing kept


@contextmanager
def _one_connection(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A server on this machine that takes one connection and ``answer``s it: its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/x"
    finally:
        thread.join(5)
        listener.close()


def test_urllib_says_whether_the_request_reached_the_server() -> None:
    """A refused connection never left; a server that read the request and hung up
    without answering did receive it."""
    send = urllib_transport()
    with _one_connection(lambda conn: conn.recv(65536)) as url:  # the request, no answer
        with pytest.raises(TransportError) as reached:
            send("POST", url, {}, b"{}", 5.0)
        assert reached.value.reached
    with pytest.raises(TransportError) as refused:
        send("POST", url, {}, b"{}", 5.0)
    assert not refused.value.reached


@pytest.mark.parametrize("status", [b"200 OK", b"503 Service Unavailable"])
def test_an_answer_cut_short_is_a_broken_line_not_a_damaged_answer(status: bytes) -> None:
    """A worker killed (or a mobile line dropped) while it sends its answer leaves the
    status and headers and part of the body. ``http.client`` hands the part on as if it
    were whole; the app must retry it like any broken line (the server may have acted,
    and a re-sent batch gets the same receipt), not call the server's answer damaged."""
    body = json.dumps({"receipt": "x" * 4000}).encode()

    def cut_short(conn: socket.socket) -> None:
        request = b""
        while not request.endswith(b"\r\n\r\n{}"):  # the whole request
            chunk = conn.recv(65536)
            if not chunk:
                return
            request += chunk
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:1000])
        conn.shutdown(socket.SHUT_WR)  # the line ends here, cleanly: no reset
        conn.settimeout(5)
        while conn.recv(65536):
            pass

    with _one_connection(cut_short) as url, pytest.raises(TransportError) as cut:
        urllib_transport()("POST", url, {}, b"{}", 5.0)
    assert cut.value.reached


@pytest.mark.parametrize("clocks", [[[1]], [5], "x", {"a": 5}, 7])
def test_clocks_a_page_cannot_mean_are_refused(clocks) -> None:
    from a0core.sync_client import _unpack_clocks

    with pytest.raises(A0Error) as info:
        _unpack_clocks([{"kind": "member", "clocks": clocks}])
    assert info.value.code == "response_malformed"
    changes = [{"kind": "member", "clocks": [[2, "d", "a", "b"]]}, {"kind": "member",
                                                                    "clocks": {"a": [1, "e"]}}]
    _unpack_clocks(changes)
    assert [c["clocks"] for c in changes] == [{"a": [2, "d"], "b": [2, "d"]}, {"a": [1, "e"]}]
