"""Sealed envelopes, receipts, pull pages and signed requests (docs/protocol.md).

Every way a batch can be bad must end in one precise refusal code and nothing
else: a tampered, truncated, oversized, foreign or malformed batch changes
nothing on the server (DESIGN §6).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a0core import envelope as env
from a0core.envelope import (
    DeviceKeys,
    ServerPublicKey,
    b64d,
    b64e,
    canonical,
    finalize_op,
    op_hash,
    op_hash_valid,
    open_batch,
    open_from_server,
    parse_envelope,
    public_b64,
    request_target,
    seal_batch,
    seal_raw,
    seal_to_device,
    sign_receipt,
    sign_request,
    strict_loads,
    verify_receipt,
    verify_request,
)
from a0core.errors import A0Error, catalogue
from server.security.cli import keys as keys_cli
from server.security.keys import KeyStore, ServerKey

DEVICE = "3f1c2a9e-0b7d-4e8a-9c61-5d2f7a8b9c10"
ENTITY = "11111111-1111-4111-8111-111111111111"
MAX = 1 << 20

BATCH_REFUSALS = {"batch_too_large", "batch_malformed", "protocol_version_unknown",
                  "batch_signature_invalid", "batch_decrypt_failed", "batch_body_malformed",
                  "batch_header_mismatch", "key_unknown"}


# ------------------------------------------------------------------- helpers


def make_ops(first: int = 1, n: int = 3) -> list[dict[str, Any]]:
    return [finalize_op({"seq": s, "hlc": (1_700_000_000_000 << 16) + s, "type": "upsert",
                         "form": "member", "version": 1, "id": ENTITY,
                         "fields": {"full_name": f"Trần Thị Lan {s}"}})
            for s in range(first, first + n)]


class World:
    """One device and one server key, and an ``open`` that plays the server."""

    def __init__(self) -> None:
        self.device = DeviceKeys.generate()
        self.server = ServerKey.generate()
        self.device_lookups: list[str] = []
        self.kid_lookups: list[str] = []

    @property
    def server_public(self) -> ServerPublicKey:
        return self.server.public()

    def seal(self, ops: list[dict[str, Any]] | None = None, **header: Any) -> bytes:
        data, _ = seal_batch(ops or make_ops(), device_id=DEVICE, batch_id=str(uuid.uuid4()),
                             server_key=self.server_public, device_keys=self.device, hlc=42,
                             schemas={"member": 1})
        return data

    def header(self, ops: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
        out = {"v": 1, "type": "batch", "device": DEVICE, "batch": str(uuid.uuid4()),
               "seq": [ops[0]["seq"], ops[-1]["seq"]], "count": len(ops),
               "kid": self.server.kid, "aead": "AES-256-GCM", "schemas": {"member": 1},
               "hlc": 42}
        out.update(changes)
        return out

    def seal_plaintext(self, plaintext: bytes, header: dict[str, Any] | None = None) -> bytes:
        """A correctly sealed and signed envelope around any plaintext (compressed or not)."""
        data, _ = seal_raw(header or self.header(make_ops()), plaintext,
                           box_public=self.server_public.box_public_key,
                           sign_private=self.device.sign_private)
        return data

    def open(self, data: bytes, max_bytes: int = MAX, **kw: Any) -> env.OpenedBatch:
        def sign_key_for(device_id: str) -> str:
            self.device_lookups.append(device_id)
            return self.device.sign_public_key

        def box_private_for(kid: str) -> X25519PrivateKey:
            self.kid_lookups.append(kid)
            if kid != self.server.kid:
                raise A0Error("key_unknown", kid=kid)
            return self.server.box_private

        return open_batch(data, max_bytes=max_bytes, device_sign_key_for=sign_key_for,
                          server_box_private_for=box_private_for, **kw)


@pytest.fixture
def world() -> World:
    return World()


def refused(code: str, fn: Any, *args: Any, **kwargs: Any) -> A0Error:
    with pytest.raises(A0Error) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


def fields_of(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def rebuild(doc: dict[str, Any]) -> bytes:
    return canonical(doc)


def resign(world: World, doc: dict[str, Any]) -> bytes:
    """What a device with a bug (or a stolen key) would send: re-signed after a change."""
    signed = b64d(doc["header"]) + b64d(doc["nonce"]) + b64d(doc["ciphertext"])
    return rebuild({**doc, "signature": b64e(world.device.sign_private.sign(signed))})


# ---------------------------------------------------------- canonical, base64


def test_canonical_sorts_keys_keeps_vietnamese_and_has_no_spaces() -> None:
    assert canonical({"b": 1, "a": ["Lan", "Đắk Lắk"]}) == '{"a":["Lan","Đắk Lắk"],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


def test_strict_loads_refuses_duplicate_keys_and_constants() -> None:
    assert strict_loads(b'{"a":1}') == {"a": 1}
    for bad in (b'{"a":1,"a":2}', b'{"a":NaN}', b"\xff", b'{"a":Infinity}'):
        with pytest.raises(ValueError):
            strict_loads(bad)


def test_base64url_is_strict() -> None:
    assert b64e(b"\xfb\xff") == "-_8"
    assert b64d("-_8") == b"\xfb\xff"
    for bad in ("-_8=", "-_8 ", "+/8", "-_9", "a", "ab!c"):
        with pytest.raises(ValueError):
            b64d(bad)


# -------------------------------------------------------------------- keys


def test_device_keys_round_trip_without_showing_private_parts() -> None:
    keys = DeviceKeys.generate()
    again = DeviceKeys.from_dict(keys.to_dict())
    assert (again.sign_public_key, again.box_public_key) == (keys.sign_public_key,
                                                             keys.box_public_key)
    assert len(b64d(keys.sign_public_key)) == 32
    for secret in keys.to_dict().values():
        assert secret not in repr(keys)


def test_server_public_key_checks_its_parts() -> None:
    key = ServerKey.generate().public()
    assert ServerPublicKey.from_dict(key.to_dict()) == key
    with pytest.raises(ValueError):
        ServerPublicKey("../etc", key.box_public_key, key.sign_public_key)
    with pytest.raises(ValueError):
        ServerPublicKey(key.kid, "short", key.sign_public_key)


# --------------------------------------------------------------- round trip


def test_batch_round_trip(world: World) -> None:
    ops = make_ops(17, 4)
    data, header = seal_batch(ops, device_id=DEVICE, batch_id=str(uuid.uuid4()),
                              server_key=world.server_public, device_keys=world.device,
                              hlc=99, schemas={"member": 1})
    opened = world.open(data)
    assert opened.header == header
    assert header["seq"] == [17, 20] and header["count"] == 4 and header["type"] == "batch"
    assert opened.ops == ops
    assert opened.body_hash == env.sha256_hex(canonical({"ops": ops}))
    assert world.device_lookups == [DEVICE] and world.kid_lookups == [world.server.kid]
    assert "Trần".encode() not in data  # the body is not readable by carriers


def test_resealed_batch_has_same_body_hash_but_other_bytes(world: World) -> None:
    ops = make_ops()
    first, second = world.seal(ops), world.seal(ops)
    assert first != second
    assert world.open(first).body_hash == world.open(second).body_hash


def test_header_is_readable_without_keys(world: World) -> None:
    parsed = parse_envelope(world.seal(make_ops(5, 2)))
    assert parsed.header["device"] == DEVICE and parsed.header["seq"] == [5, 6]


def test_sealer_refuses_non_consecutive_ops(world: World) -> None:
    ops = make_ops(1, 3)
    with pytest.raises(ValueError):
        world.seal([ops[0], ops[2]])
    with pytest.raises(ValueError):
        seal_batch([], device_id=DEVICE, batch_id=str(uuid.uuid4()),
                   server_key=world.server_public, device_keys=world.device, hlc=1, schemas={})


# ------------------------------------------------------------------ refusals


def test_oversized_is_refused_before_parsing(world: World) -> None:
    error = refused("batch_too_large", world.open, b"x" * (MAX + 1))
    assert "1 MB" in error.vi and "1 MB" in error.en
    data = world.seal()
    refused("batch_too_large", world.open, data, max_bytes=len(data) - 1)
    assert world.open(data, max_bytes=len(data)).ops
    assert world.device_lookups == [DEVICE]  # the oversized ones were never looked at


@pytest.mark.parametrize("data", [b"", b"null", b"[]", b"{}", b"not json", b"\xff\xfe",
                                  b'{"a0sync": 1}', b'{"a0sync": "1"}', b'{"a0sync": true}',
                                  b"[" * 100_000])
def test_garbage_is_malformed(world: World, data: bytes) -> None:
    refused("batch_malformed", world.open, data)


def test_truncated_at_every_cut_point_is_malformed(world: World) -> None:
    data = world.seal()
    for cut in range(len(data)):
        refused("batch_malformed", world.open, data[:cut])
    assert world.device_lookups == []


@pytest.mark.parametrize("part", ["header", "nonce", "ciphertext", "signature"])
def test_bad_base64_and_missing_parts_are_malformed(world: World, part: str) -> None:
    doc = fields_of(world.seal())
    refused("batch_malformed", world.open, rebuild({**doc, part: doc[part] + "!"}))
    refused("batch_malformed", world.open, rebuild({**doc, part: doc[part] + "="}))
    refused("batch_malformed", world.open, rebuild({k: v for k, v in doc.items() if k != part}))
    refused("batch_malformed", world.open, rebuild({**doc, part: 7}))


def test_extra_envelope_key_and_wrong_lengths_are_malformed(world: World) -> None:
    doc = fields_of(world.seal())
    refused("batch_malformed", world.open, rebuild({**doc, "extra": 1}))
    refused("batch_malformed", world.open, rebuild({**doc, "nonce": b64e(b"\0" * 11)}))
    refused("batch_malformed", world.open, rebuild({**doc, "signature": b64e(b"\0" * 63)}))
    refused("batch_malformed", world.open, rebuild({**doc, "ciphertext": b64e(b"\0" * 15)}))


def _with_header(doc: dict[str, Any], header: Any, raw: bytes | None = None) -> bytes:
    return rebuild({**doc, "header": b64e(raw if raw is not None else canonical(header))})


@pytest.mark.parametrize("change", [
    {"type": "pull"}, {"device": ""}, {"device": "../x"}, {"batch": "not-a-uuid"},
    {"batch": str(uuid.uuid4()).upper()}, {"seq": [3, 1]}, {"seq": [0, 2]}, {"seq": [1]},
    {"seq": [1, "3"]}, {"count": 0}, {"count": True}, {"kid": "../../etc/passwd"},
    {"epk": "short"}, {"aead": "ChaCha20"}, {"schemas": {"Member": 1}},
    {"schemas": {"member": 0}}, {"hlc": -1}, {"hlc": 1 << 63}, {"extra": 1},
])
def test_bad_header_fields_are_malformed(world: World, change: dict[str, Any]) -> None:
    doc = fields_of(world.seal())
    header = {**strict_loads(b64d(doc["header"])), **change}
    refused("batch_malformed", world.open, _with_header(doc, header))
    assert world.device_lookups == []


def test_non_canonical_header_is_malformed(world: World) -> None:
    doc = fields_of(world.seal())
    header = strict_loads(b64d(doc["header"]))
    spaced = json.dumps(header, ensure_ascii=False, sort_keys=True).encode()
    refused("batch_malformed", world.open, _with_header(doc, None, spaced))
    refused("batch_malformed", world.open, _with_header(doc, None, b"[1,2]"))


def test_unknown_protocol_version(world: World) -> None:
    doc = fields_of(world.seal())
    error = refused("protocol_version_unknown", world.open, rebuild({**doc, "a0sync": 2}))
    assert "2" in error.vi
    # a future envelope may have other parts altogether: the version is read first
    refused("protocol_version_unknown", world.open, b'{"a0sync": 3, "whatever": []}')
    header = world.header(make_ops(), v=2)
    refused("protocol_version_unknown", world.open,
            world.seal_plaintext(env.deflate(canonical({"ops": make_ops()})), header))


def test_tampered_header_fails_the_signature(world: World) -> None:
    doc = fields_of(world.seal())
    header = strict_loads(b64d(doc["header"]))
    for change in ({"hlc": 43}, {"seq": [1, 4], "count": 4}, {"schemas": {"member": 2}}):
        refused("batch_signature_invalid", world.open, _with_header(doc, {**header, **change}))
    assert world.kid_lookups == []  # key ids are not looked up for strangers


def test_tampered_header_fails_the_aead_even_when_resigned(world: World) -> None:
    doc = fields_of(world.seal())
    header = {**strict_loads(b64d(doc["header"])), "hlc": 43}
    refused("batch_decrypt_failed", world.open, resign(world, {**doc,
                                                               "header": b64e(canonical(header))}))


@pytest.mark.parametrize("part", ["ciphertext", "nonce"])
def test_tampered_body_or_nonce(world: World, part: str) -> None:
    doc = fields_of(world.seal())
    raw = bytearray(b64d(doc[part]))
    raw[len(raw) // 2] ^= 0x01
    tampered = {**doc, part: b64e(bytes(raw))}
    refused("batch_signature_invalid", world.open, rebuild(tampered))
    refused("batch_decrypt_failed", world.open, resign(world, tampered))


def test_signature_of_another_device_is_refused(world: World) -> None:
    other = World()
    other.server = world.server
    refused("batch_signature_invalid", world.open, other.seal())


def test_device_lookup_refusal_propagates_before_any_crypto(world: World) -> None:
    def revoked(device_id: str) -> str:
        raise A0Error("key_unknown", kid=device_id)  # stands for device_revoked

    with pytest.raises(A0Error) as info:
        open_batch(world.seal(), max_bytes=MAX, device_sign_key_for=revoked,
                   server_box_private_for=lambda kid: pytest.fail("must not be reached"))
    assert info.value.code == "key_unknown"


def test_batch_for_unknown_or_other_server_key(world: World) -> None:
    rotated = World()
    rotated.device = world.device
    rotated.server = ServerKey.generate()  # another kid: not known to ``world``
    refused("key_unknown", world.open, rotated.seal())
    same_kid = ServerKey(world.server.kid, world.server.created, Ed25519PrivateKey.generate(),
                         X25519PrivateKey.generate())
    impostor = World()
    impostor.device, impostor.server = world.device, same_kid
    refused("batch_decrypt_failed", world.open, impostor.seal())


def test_low_order_ephemeral_key_fails_decryption(world: World) -> None:
    doc = fields_of(world.seal())
    header = {**strict_loads(b64d(doc["header"])), "epk": b64e(bytes(32))}
    refused("batch_decrypt_failed", world.open,
            resign(world, {**doc, "header": b64e(canonical(header))}))


@pytest.mark.parametrize("plaintext", [
    b"not zlib at all",
    zlib.compress(b"not json"),
    zlib.compress(b'{"ops": [1, 2]'),
    zlib.compress(canonical([1, 2, 3])),
    zlib.compress(canonical("ops")),
    zlib.compress(canonical({"ops": "x"})),
    zlib.compress(canonical({"ops": [], "more": 1})),
    zlib.compress(canonical({"ops": [1, 2, 3]})),
    zlib.compress(canonical({"ops": [{"seq": "1"}, {"seq": 2}, {"seq": 3}]})),
    zlib.compress(b'{"ops":[],"ops":[]}'),
    zlib.compress(b'{"ops":[{"seq":1,"x":"\\ud800"}]}'),
    zlib.compress(canonical({"ops": make_ops()}))[:-3],  # truncated stream
    zlib.compress(canonical({"ops": make_ops()})) + b"trailing",
])
def test_malformed_body_inside_a_valid_envelope(world: World, plaintext: bytes) -> None:
    refused("batch_body_malformed", world.open, world.seal_plaintext(plaintext))


def test_zip_bomb_is_refused_without_inflating_it(world: World) -> None:
    bomb = zlib.compress(b'{"ops":[' + b" " * (50 << 20) + b"]}", 9)
    assert len(bomb) < 100_000
    data = world.seal_plaintext(bomb)
    error = refused("batch_too_large", world.open, data, max_body_bytes=1 << 20)
    assert "1 MB" in error.en


@pytest.mark.parametrize(("header_change", "body_ops"), [
    ({}, make_ops(1, 2)),                                    # count 3, two ops
    ({}, make_ops(1, 4)),                                    # count 3, four ops
    ({}, [*make_ops(1, 2), *make_ops(4, 1)]),                # a gap
    ({}, list(reversed(make_ops(1, 3)))),                    # out of order
    ({}, [*make_ops(1, 2), *make_ops(2, 1)]),                # a duplicate seq
    ({"count": 4}, make_ops(1, 3)),                          # count against range
    ({"seq": [2, 4]}, make_ops(1, 3)),                       # range against ops
])
def test_header_and_ops_disagree(world: World, header_change: dict[str, Any],
                                 body_ops: list[dict[str, Any]]) -> None:
    header = world.header(make_ops(1, 3), **header_change)
    plaintext = env.deflate(canonical({"ops": body_ops}))
    refused("batch_header_mismatch", world.open, world.seal_plaintext(plaintext, header))


def test_every_refusal_code_is_in_the_catalogue() -> None:
    missing = (BATCH_REFUSALS | {"receipt_signature_invalid", "response_malformed",
                                 "response_signature_invalid", "response_decrypt_failed",
                                 "request_signature_invalid"}) - set(catalogue())
    assert not missing
    for code in BATCH_REFUSALS:
        error = A0Error(code, limit="8 MB", version=2, kid="k1")
        assert "{" not in error.vi and "{" not in error.en


# ---------------------------------------------------------------- fuzzing


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_only_ever_raise_a0error(data: bytes) -> None:
    world = _FUZZ_WORLD
    with pytest.raises(A0Error) as info:
        world.open(data, max_bytes=1024)
    assert info.value.code in BATCH_REFUSALS


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_mutation_is_refused(data: st.DataObject) -> None:
    world = _FUZZ_WORLD
    original = _FUZZ_ENVELOPE
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    mutated = original[:position] + bytes([value]) + original[position + 1:]
    with pytest.raises(A0Error) as info:
        world.open(mutated)
    assert info.value.code in BATCH_REFUSALS


_FUZZ_WORLD = World()
_FUZZ_ENVELOPE = _FUZZ_WORLD.seal(make_ops(1, 2))


# ------------------------------------------------------------------ receipts


def _receipt(kid: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"v": 1, "type": "receipt", "device": DEVICE,
                           "batch": str(uuid.uuid4()), "received_at": "2026-11-23T06:43:00Z",
                           "server_hlc": 1234, "highest_contiguous_seq": 3,
                           "verdicts": [{"seq": 1, "verdict": "applied"},
                                        {"seq": 2, "verdict": "rejected",
                                         "code": "record_invalid", "message_vi": "Bản ghi",
                                         "message_en": "Record", "errors": []}]}
    if kid:
        out["kid"] = kid
    return out


def test_receipt_round_trip_and_tampering() -> None:
    server = ServerKey.generate()
    doc = sign_receipt(_receipt(), server.sign_private, server.kid)
    assert doc["receipt"]["kid"] == server.kid
    assert verify_receipt(json.loads(json.dumps(doc)), server.public()) == doc["receipt"]
    assert verify_receipt(doc, {server.kid: server.public()}) == doc["receipt"]
    assert verify_receipt(doc, server.public().sign_public_key) == doc["receipt"]

    text = canonical(doc)
    for position in range(0, len(text), 7):
        flipped = bytearray(text)
        flipped[position] ^= 0x01
        try:
            candidate = json.loads(bytes(flipped))
        except ValueError:
            continue  # not even JSON: the client refuses it before (response_malformed)
        refused("receipt_signature_invalid", verify_receipt, candidate, server.public())

    other = ServerKey.generate()
    refused("receipt_signature_invalid", verify_receipt, doc, other.public())
    refused("receipt_signature_invalid", verify_receipt, doc, {other.kid: other.public()})
    for bad in (None, [], {"receipt": doc["receipt"]}, {**doc, "signature": "x"},
                {**doc, "receipt": {**doc["receipt"], "v": True}},
                {**doc, "receipt": {**doc["receipt"], "x": float("nan")}}):
        refused("receipt_signature_invalid", verify_receipt, bad, server.public())


def test_receipt_kid_must_match_the_signing_key() -> None:
    server = ServerKey.generate()
    with pytest.raises(ValueError):
        sign_receipt(_receipt("another"), server.sign_private, server.kid)


# ---------------------------------------------------------------- pull pages


def test_pull_page_round_trip_and_refusals() -> None:
    server, device = ServerKey.generate(), DeviceKeys.generate()
    page = {"changes": [{"seq": 1, "kind": "member", "id": ENTITY,
                         "data": {"full_name": "Trần Thị Lan"}}],
            "verdicts": [], "cursor": 2, "more": False, "server_hlc": 77,
            "server_key": server.public().to_dict()}
    data = seal_to_device(page, device.box_public_key, server.sign_private, server.kid,
                          device_id=DEVICE, hlc=77)
    assert parse_envelope(data, expected_type="pull").header["type"] == "pull"
    assert open_from_server(data, device, server.public(), device_id=DEVICE) == page
    assert open_from_server(data, device, {server.kid: server.public()}) == page

    other = ServerKey.generate()
    refused("response_signature_invalid", open_from_server, data, device, other.public())
    refused("response_signature_invalid", open_from_server, data, device,
            other.public().sign_public_key)
    refused("response_malformed", open_from_server, data, device, server.public(),
            device_id="someone-else")
    refused("response_decrypt_failed", open_from_server, data, DeviceKeys.generate(),
            server.public())
    # a batch is not a pull page, and a pull page is not a batch
    refused("response_malformed", open_from_server, World().seal(), device, server.public())
    refused("batch_malformed", parse_envelope, data)
    for position in range(0, len(data), 5):
        flipped = bytearray(data)
        flipped[position] ^= 0x01
        with pytest.raises(A0Error) as info:
            open_from_server(bytes(flipped), device, server.public())
        assert info.value.code in {"response_malformed", "response_signature_invalid",
                                   "protocol_version_unknown"}


def test_pull_body_must_be_an_object() -> None:
    server, device = ServerKey.generate(), DeviceKeys.generate()
    header = {"v": 1, "type": "pull", "device": DEVICE, "batch": str(uuid.uuid4()),
              "kid": server.kid, "aead": "AES-256-GCM", "hlc": 1}
    for plaintext in (env.deflate(b"[1]"), env.deflate(b"{"), b"raw"):
        data, _ = seal_raw(header, plaintext, box_public=device.box_public_key,
                           sign_private=server.sign_private)
        refused("response_malformed", open_from_server, data, device, server.public())


# ------------------------------------------------------------------ requests


def test_request_signature() -> None:
    device, other = DeviceKeys.generate(), DeviceKeys.generate()
    target = request_target("/api/v1/sync/pull", b"cursor=0&limit=500&kid=k1")
    assert target == "/api/v1/sync/pull?cursor=0&limit=500&kid=k1"
    assert request_target("/api/v1/x", b"") == "/api/v1/x"
    headers = sign_request("GET", target, b"", device, device_id=DEVICE)
    assert verify_request("GET", target, b"", headers, device.sign_public_key) == DEVICE
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_request("get", target, b"", lower, device.sign_private.public_key()) == DEVICE

    for method, path, body in (("POST", target, b""), ("GET", target + "0", b""),
                               ("GET", target, b"x")):
        refused("request_signature_invalid", verify_request, method, path, body, headers,
                device.sign_public_key)
    refused("request_signature_invalid", verify_request, "GET", target, b"", headers,
            other.sign_public_key)
    for broken in ({}, {"X-A0-Device": DEVICE}, {**headers, "X-A0-Signature": "zz"},
                   {**headers, "X-A0-Device": "../x"}):
        refused("request_signature_invalid", verify_request, "GET", target, b"", broken,
                device.sign_public_key)
    with pytest.raises(ValueError):
        sign_request("GET", "/a\nb", b"", device, device_id=DEVICE)


# ---------------------------------------------------------------- operations


def test_op_hash() -> None:
    op = make_ops(1, 1)[0]
    assert op["hash"] == op_hash(op) and len(op["hash"]) == 64
    assert op_hash_valid(op)
    assert op_hash({k: v for k, v in op.items() if k != "hash"}) == op["hash"]
    changed = {**op, "fields": {"full_name": "Trần Thị Lan!"}}
    assert not op_hash_valid(changed)
    assert finalize_op(changed)["hash"] != op["hash"]
    assert not op_hash_valid({**op, "hash": None})
    assert list(finalize_op(op)) == list(op)  # finalising twice changes nothing


# ----------------------------------------------------------- server key store


def test_keystore_creates_one_key_with_private_files(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key = store.current()
    assert store.current().kid == key.kid
    folder = tmp_path / "keys"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name for p in folder.iterdir()} == {"CURRENT", f"{key.kid}.json"}
    assert stat.S_IMODE((folder / f"{key.kid}.json").stat().st_mode) == 0o600
    saved = json.loads((folder / f"{key.kid}.json").read_text())
    assert saved["box_public_key"] == public_b64(key.box_private.public_key())
    assert "private" not in repr(key)
    assert KeyStore(tmp_path).current().kid == key.kid  # another process sees the same


def test_keystore_unknown_and_hostile_kids(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.current()
    (tmp_path / "secret.json").write_text("{}")
    for kid in ("nope", "../secret", "", "a/b", "CURRENT"):
        refused("key_unknown", store.get, kid)


def test_rotation_keeps_old_batches_open(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    old = store.public()
    device = DeviceKeys.generate()
    ops = make_ops()
    sealed_before, _ = seal_batch(ops, device_id=DEVICE, batch_id=str(uuid.uuid4()),
                                  server_key=old, device_keys=device, hlc=1,
                                  schemas={"member": 1})
    new = store.rotate()
    assert new.kid != old.kid
    assert store.current().kid == new.kid == KeyStore(tmp_path).current().kid
    assert store.public(old.kid) == old
    listing = store.list()
    assert [(i.kid, i.current) for i in listing] == [(old.kid, False), (new.kid, True)]

    def open_with(s: KeyStore, data: bytes) -> env.OpenedBatch:
        return open_batch(data, max_bytes=MAX,
                          device_sign_key_for=lambda d: device.sign_public_key,
                          server_box_private_for=lambda kid: s.get(kid).box_private)

    fresh = KeyStore(tmp_path)  # e.g. another gunicorn worker
    assert open_with(fresh, sealed_before).ops == ops
    sealed_after, header = seal_batch(ops, device_id=DEVICE, batch_id=str(uuid.uuid4()),
                                      server_key=fresh.public(), device_keys=device, hlc=2,
                                      schemas={"member": 1})
    assert header["kid"] == new.kid
    assert open_with(store, sealed_after).ops == ops


def _race(folder: str, barrier: Any, queue: Any) -> None:
    barrier.wait()
    queue.put(KeyStore(folder).current().kid)


def test_workers_starting_together_agree_on_one_first_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = 8
    barrier, queue = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_race, args=(str(tmp_path), barrier, queue))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    kids = {queue.get(timeout=30) for _ in processes}
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert len(kids) == 1
    assert {p.name for p in (tmp_path / "keys").iterdir()} == {"CURRENT", f"{kids.pop()}.json"}


def test_crash_before_publishing_promotes_the_orphan_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    first = store.current()
    os.unlink(tmp_path / "keys" / "CURRENT")
    assert KeyStore(tmp_path).current().kid == first.kid


def test_keys_cli(tmp_path: Path) -> None:
    app = Flask(__name__, instance_path=str(tmp_path))
    app.config["INSTANCE_PATH"] = str(tmp_path)
    app.cli.add_command(keys_cli)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "list", "--json"])
    assert result.exit_code == 0, result.output
    [first] = json.loads(result.output)
    assert first["current"] is True
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["keys", "list"])
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(first["kid"])
    assert not lines[0].endswith("current") and lines[1].endswith("current")
    assert "private" not in result.output
