"""The JSON Schemas in schemas/protocol/ match both the contract and the code.

Every example in docs/protocol.md validates against the schema it illustrates
(placeholders such as ``"…"`` or ``"<b64 Ed25519>"`` are filled with sample
values by key name), and so does every message the real code produces.
"""

from __future__ import annotations

import json
import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from a0core.envelope import (
    DeviceKeys,
    b64e,
    parse_envelope,
    seal_to_device,
    sign_receipt,
)
from a0core.schemas import schemas_dir
from a0core.sync_client import HttpResponse, RetryPolicy, SyncClient, make_op, seal
from server.security.keys import ServerKey

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
NAMES = ["envelope.v1", "batch_header.v1", "operation.v1", "receipt.v1", "enrol_request.v1",
         "enrol_response.v1", "pull_page.v1"]
ENTITY = "11111111-1111-4111-8111-111111111111"

SAMPLES: dict[str, Any] = {
    "sign_public_key": b64e(bytes(range(32))), "box_public_key": b64e(bytes(range(1, 33))),
    "epk": b64e(bytes(range(2, 34))), "signature": b64e(bytes(64)), "nonce": b64e(bytes(12)),
    "header": b64e(b'{"v":1}'), "ciphertext": b64e(bytes(40)),
    "device_id": "3f1c2a9e-0b7d-4e8a-9c61-5d2f7a8b9c10",
    "device": "3f1c2a9e-0b7d-4e8a-9c61-5d2f7a8b9c10", "batch": str(uuid.UUID(int=1)),
    "id": ENTITY, "waiting_on": ENTITY, "kid": "20261123-0a1b2c3d", "hash": "ab" * 32,
    "full_name": "Trần Thị Lan", "name": "Xã Tân Phú", "message_vi": "Bản ghi không hợp lệ",
    "message_en": "The record is invalid", None: "dev-a",
}
TOKENS = [("[first, last]", "[17, 20]"), ('"count": n', '"count": 4'), ("{…}", "{}"),
          ("[ … ]", "[]"), (", …]", "]")]


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "protocol" / f"{name}.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(name: str, instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(instance)]


def _fill(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    if isinstance(value, str) and (value == "…" or re.fullmatch(r"<[^>]*>", value)):
        assert key in SAMPLES, f"no sample value for placeholder {value!r} under {key!r}"
        return SAMPLES[key]
    return value


def doc_examples() -> list[tuple[str, Any]]:
    """(schema name, filled example) for each JSON block, named by the nearest mention."""
    text = DOC.read_text("utf-8")
    out = []
    for match in re.finditer(r"```json\n(.*?)```", text, re.S):
        mentions = re.findall(r"`(\w+\.v1)`", text[:match.start()])
        block = match.group(1)
        for token, replacement in TOKENS:
            block = block.replace(token, replacement)
        out.append((mentions[-1], _fill(json.loads(block))))
    return out


def test_schemas_are_valid_draft_2020_12() -> None:
    for name in NAMES:
        validator(name)


def test_every_schema_has_an_example_in_the_contract() -> None:
    assert sorted({name for name, _ in doc_examples()}) == sorted(NAMES)


@pytest.mark.parametrize(("name", "example"), doc_examples(),
                         ids=[name for name, _ in doc_examples()])
def test_contract_examples_validate(name: str, example: Any) -> None:
    assert errors(name, example) == []


def test_real_messages_validate() -> None:
    server, device = ServerKey.generate(), DeviceKeys.generate()
    ops = [make_op(1, 5, "upsert", "member", 1, ENTITY, {"full_name": "Lan"},
                   base={"full_name": (3, "dev-b")}),
           make_op(2, 6, "event", "birth", 1, str(uuid.uuid4()), {"event_date": "2026-11-01"}),
           make_op(3, 7, "void", "birth", 1, ENTITY, {"target": "event", "reason": "nhầm"}),
           make_op(4, 8, "delete", "member", 1, ENTITY, {})]
    for op in ops:
        assert errors("operation.v1", op) == []
    sealed = seal(ops, device_id="dev-a", keys=device, server_key=server.public(), hlc=9)
    assert errors("batch_header.v1", sealed.header) == []
    assert errors("envelope.v1", json.loads(sealed.envelope)) == []

    page = {"changes": [{"seq": 1, "kind": "alias", "id": ENTITY,
                         "data": {"old_id": ENTITY, "survivor_id": ENTITY}, "clocks": None,
                         "deleted": False, "merged_into": None}],
            "verdicts": [{"seq": 3, "verdict": "waiting", "waiting_on": ENTITY}],
            "cursor": 1, "more": False, "server_hlc": 10, "schemas": {"hash": "x"},
            "server_key": server.public().to_dict()}
    assert errors("pull_page.v1", page) == []
    pulled = seal_to_device(page, device.box_public_key, server.sign_private, server.kid,
                            device_id="dev-a", hlc=10)
    assert errors("envelope.v1", json.loads(pulled)) == []
    assert errors("batch_header.v1", parse_envelope(pulled, expected_type="pull").header) == []

    receipt = sign_receipt({"v": 1, "type": "receipt", "device": "dev-a",
                            "batch": sealed.header["batch"], "received_at": "2026-11-23T06:43:00Z",
                            "server_hlc": 11, "highest_contiguous_seq": 4,
                            "verdicts": [{"seq": 1, "verdict": "applied"},
                                         {"seq": 2, "verdict": "duplicate"}]},
                           server.sign_private, server.kid)
    assert errors("receipt.v1", receipt) == []

    sent: list[bytes] = []

    def transport(method: str, url: str, headers: Any, body: bytes | None,
                  timeout: float) -> HttpResponse:
        sent.append(body or b"")
        return HttpResponse(200, {}, json.dumps(response).encode())

    response = {"device_id": str(uuid.uuid4()), "collaborator": {"id": 7, "full_name": "Lan"},
                "area": {"code": "12619.03.1", "name": "Thôn 1"},
                "commune": {"code": "12619", "name": "Xã"}, "province": {"code": "33", "name": "T"},
                "server_key": server.public().to_dict(), "server_hlc": 12}
    assert errors("enrol_response.v1", response) == []
    SyncClient.enrol("https://a0sync.example.vn", "ABCD-EFGH-JK", device, "máy của Lan", 3,
                     transport=transport, retry=RetryPolicy(attempts=1))
    assert errors("enrol_request.v1", json.loads(sent[0])) == []


@pytest.mark.parametrize(("name", "instance"), [
    ("operation.v1", {"seq": 0, "hlc": 1, "type": "upsert", "form": "member", "version": 1,
                      "id": ENTITY, "fields": {}, "hash": "ab" * 32}),
    ("operation.v1", {"seq": 1, "hlc": 1, "type": "event", "form": "birth", "version": 1,
                      "id": ENTITY, "fields": {}, "hash": "ab" * 32,
                      "base": {"x": [1, "dev-a"]}}),
    ("operation.v1", {"seq": 1, "hlc": 1, "type": "void", "form": "birth", "version": 1,
                      "id": ENTITY, "fields": {"target": "household"}, "hash": "ab" * 32}),
    ("batch_header.v1", {"v": 1, "type": "batch", "device": "dev-a", "batch": str(uuid.uuid4()),
                         "kid": "k", "epk": SAMPLES["epk"], "aead": "AES-256-GCM", "hlc": 1}),
    ("batch_header.v1", {"v": 2, "type": "pull", "device": "dev-a", "batch": str(uuid.uuid4()),
                         "kid": "k", "epk": SAMPLES["epk"], "aead": "AES-256-GCM", "hlc": 1}),
    ("envelope.v1", {"a0sync": 1, "header": "e30", "nonce": "short", "ciphertext": "x" * 22,
                     "signature": SAMPLES["signature"]}),
    ("receipt.v1", {"receipt": {"v": 1}, "signature": SAMPLES["signature"]}),
    ("enrol_request.v1", {"code": "ABCD-EFGH-JK", "sign_public_key": "x", "box_public_key": "y",
                          "label": "", "hlc": 1}),
    ("pull_page.v1", {"changes": [], "verdicts": [{"seq": 1, "verdict": "rejected"}],
                      "cursor": 0, "more": False, "server_hlc": 0,
                      "server_key": {"kid": "k", "box_public_key": SAMPLES["epk"],
                                     "sign_public_key": SAMPLES["epk"]}}),
])
def test_schemas_refuse_bad_messages(name: str, instance: Any) -> None:
    assert errors(name, instance) != []
