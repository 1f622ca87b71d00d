"""Every refusal has its code, and changes nothing (issue 3 list, DESIGN §6)."""

from __future__ import annotations

import json
import uuid

import pytest

from a0core.envelope import AEAD, DeviceKeys, b64d, b64e, canonical, deflate, seal_raw
from a0core.hlc import pack, wall_ms
from a0core.sync_client import make_op, seal
from server.extensions import db
from server.models.people import Device
from server.security.keys import keystore_for
from tests.support.register import counts, household, member, new_id
from tests.support.sim import SimDevice


def refused(client, envelope: bytes, code: str, status: int | None = None) -> None:
    before = counts()
    resp = client.post("/api/v1/sync/batches", data=envelope)
    body = resp.get_json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message_vi"] and body["error"]["message_en"]
    if status:
        assert resp.status_code == status
    assert counts() == before


def rejected(device, client, op, code: str) -> dict:
    before = counts()
    body = device.send(client, device.seal([op]))
    verdict = body["receipt"]["verdicts"][0]
    assert verdict["verdict"] == "rejected" and verdict["code"] == code, verdict
    assert verdict["message_vi"] and verdict["message_en"]
    after = counts()
    # the operation is acknowledged in the ledger, and nothing else changed
    assert after["sync_op"] == before["sync_op"] + 1
    assert {k: v for k, v in after.items() if k not in ("sync_op", "sync_batch")} == \
        {k: v for k, v in before.items() if k not in ("sync_op", "sync_batch")}
    return verdict


def _envelope(device) -> dict:
    device.upsert("household", new_id(), household(device.area))
    return json.loads(device.seal())


def _tamper(doc: dict, part: str) -> bytes:
    raw = bytearray(b64d(doc[part]))
    raw[len(raw) // 2] ^= 0x01
    return canonical({**doc, part: b64e(bytes(raw))})


def test_tampered_ciphertext(client, device) -> None:
    refused(client, _tamper(_envelope(device), "ciphertext"), "batch_signature_invalid", 401)


def test_tampered_header(client, device) -> None:
    doc = _envelope(device)
    header = json.loads(b64d(doc["header"]))
    header["seq"] = [1, 1]
    header["hlc"] += 1
    refused(client, canonical({**doc, "header": b64e(canonical(header))}),
            "batch_signature_invalid")


def test_wrong_signature(client, device) -> None:
    doc = _envelope(device)
    stranger = DeviceKeys.generate()
    signed = b64d(doc["header"]) + b64d(doc["nonce"]) + b64d(doc["ciphertext"])
    forged = canonical({**doc, "signature": b64e(stranger.sign_private.sign(signed))})
    refused(client, forged, "batch_signature_invalid")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(client, device, keep: float) -> None:
    envelope = device.seal([device.upsert("household", new_id(), household(device.area))])
    refused(client, envelope[: int(len(envelope) * keep)], "batch_malformed")


def test_oversized_batch(app, client, device) -> None:
    app.config["A0SYNC_MAX_BATCH_BYTES"] = 2048
    for n in range(40):
        device.upsert("household", new_id(), household(device.area, str(n + 1)))
    refused(client, device.seal(), "batch_too_large", 413)


def test_batch_from_a_revoked_device(client, device) -> None:
    envelope = _envelope(device)
    db.session.get(Device, device.id).revoked_at = db.func.now()
    db.session.commit()
    refused(client, canonical(envelope), "device_revoked", 403)


def test_batch_from_an_unknown_device(client, device) -> None:
    op = device.upsert("household", new_id(), household(device.area))
    envelope = seal([op], device_id=str(uuid.uuid4()), keys=DeviceKeys.generate(),
                    server_key=device.server_key, hlc=op["hlc"]).envelope
    refused(client, envelope, "device_unknown", 401)


def test_unknown_key_id(app, client, device) -> None:
    device.upsert("household", new_id(), household(device.area))
    ops = device.outbox
    stranger_key = keystore_for(app).public()
    header = {"v": 1, "type": "batch", "device": device.id, "batch": str(uuid.uuid4()),
              "seq": [1, 1], "count": 1, "kid": "k-does-not-exist", "aead": AEAD,
              "schemas": {"household": 1}, "hlc": ops[0]["hlc"]}
    envelope, _ = seal_raw(header, deflate(canonical({"ops": ops})),
                           box_public=stranger_key.box_public_key,
                           sign_private=device.keys.sign_private)
    refused(client, envelope, "key_unknown")


@pytest.mark.parametrize("plaintext", [b"{not json", b"[]", b'{"ops": 5}',
                                       b'{"ops": [], "extra": 1}'])
def test_malformed_json_inside_a_valid_envelope(app, client, device, plaintext) -> None:
    key = keystore_for(app).public()
    header = {"v": 1, "type": "batch", "device": device.id, "batch": str(uuid.uuid4()),
              "seq": [1, 1], "count": 1, "kid": key.kid, "aead": AEAD, "schemas": {},
              "hlc": device.clock.now()}
    envelope, _ = seal_raw(header, deflate(plaintext), box_public=key.box_public_key,
                           sign_private=device.keys.sign_private)
    refused(client, envelope, "batch_body_malformed")


def test_operation_outside_the_device_scope(app, client, device) -> None:
    rejected(device, client, device.upsert("household", new_id(), household("12619.02.1")),
             "op_out_of_scope")
    # and a record of another area cannot be edited through a member either
    other = SimDevice(app, area="12619.02.1")
    hh = new_id()
    other.upsert("household", hh, household(other.area))
    other.send(client, other.seal())
    rejected(device, client, device.upsert("member", new_id(), member(hh)), "op_out_of_scope")


def test_same_operation_id_with_different_content(client, device) -> None:
    hh = new_id()
    first = device.upsert("household", hh, household(device.area))
    device.send(client, device.seal([first]))
    forged = make_op(1, first["hlc"] + 5, "upsert", "household", 1, hh,
                     household(device.area, "42"))
    before = counts()
    body = device.send(client, device.seal([forged]))
    assert body["receipt"]["verdicts"][0]["code"] == "op_hash_mismatch"
    assert counts()["sync_op"] == before["sync_op"]
    assert counts()["household"] == before["household"]


def test_future_hlc(client, device) -> None:
    """An operation stamped two days ahead is refused alone (the batch header, sealed by a
    right clock, is fine), with the server's time and tolerance for the device."""
    device.seq += 1
    op = make_op(device.seq, pack(wall_ms() + 2 * 86_400_000), "upsert", "household", 1,
                 new_id(), household(device.area))
    verdict = rejected(device, client, op, "hlc_future")
    assert verdict["max_ahead_ms"] == 86_400_000
    assert abs(verdict["server_time_ms"] - wall_ms()) < 600_000


def test_clock_a_few_hours_ahead_is_accepted(client, device) -> None:
    device.clock.observe(pack(wall_ms() + 5 * 3_600_000))
    body = device.send(client, device.seal([device.upsert("household", new_id(),
                                                          household(device.area))]))
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied"


def test_unknown_form_version(client, device) -> None:
    device.seq += 1
    op = make_op(device.seq, device.clock.now(), "upsert", "household", 99, new_id(),
                 household(device.area))
    verdict = rejected(device, client, op, "form_version_unknown")
    assert "99" in verdict["message_en"]


def test_invalid_record_names_its_fields(client, device) -> None:
    record = {**member(new_id()), "sex": "robot", "birth_date": "2190-01-01"}
    hh = new_id()
    device.send(client, device.seal([device.upsert("household", hh, household(device.area))]))
    verdict = rejected(device, client,
                       device.upsert("member", new_id(), {**record, "household_id": hh}),
                       "record_invalid")
    assert {(e["field"], e["code"]) for e in verdict["errors"]} >= {("sex", "code_unknown"),
                                                                   ("birth_date", "date_future")}


def test_one_bad_record_does_not_block_the_rest(client, device) -> None:
    hh = new_id()
    good = device.upsert("household", hh, household(device.area))
    bad = device.upsert("member", new_id(), {**member(hh), "relation": "unicorn"})
    fine = device.upsert("member", new_id(), member(hh, name="Lê Văn Nam", sex="male"))
    body = device.send(client, device.seal([good, bad, fine]))
    assert [v["verdict"] for v in body["receipt"]["verdicts"]] == ["applied", "rejected",
                                                                   "applied"]
    assert body["receipt"]["highest_contiguous_seq"] == 3  # rejected is acknowledged
