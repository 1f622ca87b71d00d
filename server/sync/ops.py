"""Operations as they arrive: shape checks, before anything touches the register."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from a0core.envelope import op_hash_valid
from a0core.errors import A0Error
from a0core.merge import Stamp

UPSERT, EVENT, DISTRIBUTION, VOID, DELETE = "upsert", "event", "distribution", "void", "delete"
REPORT = "report"  # a closed monthly P0 slip
STOCK = "stock"  # a contraceptive stock movement (LMIS: server.logistics)
OP_TYPES = (UPSERT, EVENT, DISTRIBUTION, VOID, DELETE, REPORT, STOCK)
# which form kind each operation type carries
FORM_KIND = {UPSERT: "entity", EVENT: "event", DISTRIBUTION: "distribution", DELETE: "entity",
             REPORT: "report", STOCK: "stock"}
VOID_TARGETS = ("event", "distribution", "stock_movement")
MAX_INT64 = 2**63 - 1
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Op(NamedTuple):
    """An operation that passed the shape checks (a tuple: built for every operation)."""

    device: str
    seq: int
    hlc: int
    type: str
    form: str | None
    version: int | None
    id: str
    fields: dict[str, Any]
    base: dict[str, Stamp]
    raw: Mapping[str, Any]

    @property
    def stamp(self) -> Stamp:
        return (self.hlc, self.device)

    @property
    def hash(self) -> str:
        return str(self.raw.get("hash", ""))


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def _malformed(seq: Any, detail: str) -> A0Error:
    return A0Error("op_malformed", seq=seq, detail=detail)


def _int(value: Any, low: int = 0) -> bool:
    return type(value) is int and low <= value <= MAX_INT64


def parse_op(raw: Mapping[str, Any], device: str, *, known_plain: bool = False) -> Op:
    """Check an operation's shape and content hash; the sequence is checked by the envelope.

    ``known_plain``: from an opened batch whose values were all checked already
    (``OpenedBatch.plain``), which spares the hash a second look at every value.
    """
    seq = raw.get("seq")
    if not _int(raw.get("hlc")):
        raise _malformed(seq, "hlc")
    op_type = raw.get("type")
    if op_type not in OP_TYPES:
        raise A0Error("op_type_unknown", type=str(op_type)[:32])
    if not is_uuid(raw.get("id")):
        raise _malformed(seq, "id")
    fields = raw.get("fields")
    if not isinstance(fields, dict):
        raise _malformed(seq, "fields")
    base: dict[str, Stamp] = {}
    raw_base = raw.get("base", {})
    if not isinstance(raw_base, dict):
        raise _malformed(seq, "base")
    for name, stamp in raw_base.items():
        if not (isinstance(stamp, list) and len(stamp) == 2 and _int(stamp[0])
                and isinstance(stamp[1], str)):
            raise _malformed(seq, f"base.{name}")
        base[name] = (stamp[0], stamp[1])
    form, version = raw.get("form"), raw.get("version")
    if op_type == VOID:
        if fields.get("target") not in VOID_TARGETS:
            raise A0Error("target_unknown_kind", target=str(fields.get("target"))[:32])
    elif not (isinstance(form, str) and _int(version, 1)):
        raise _malformed(seq, "form/version")
    if not op_hash_valid(raw, known_plain=known_plain):
        raise A0Error("op_hash_invalid", seq=seq)
    return Op(device, seq, raw["hlc"], op_type, form if isinstance(form, str) else None,
              version if _int(version, 1) else None, raw["id"], dict(fields), base, raw)
