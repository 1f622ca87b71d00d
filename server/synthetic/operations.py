"""A generated area as a device's outbox: the operations its collaborator would send.

Benchmarks and end-to-end tests feed the real ingest path with realistic traffic:
registering households and members (A0 upserts), the woman/couple form, the
period's change-slip events and distributions, each stamped by a device clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from a0core.hlc import HybridClock
from a0core.sync_client import make_op
from server.synthetic.generator import (
    DISTRIBUTION_FORM,
    HOUSEHOLD_FORM,
    MEMBER_FORM,
    WOMAN_FORM,
    AreaRegister,
)


def area_operations(area: AreaRegister, clock: HybridClock, first_seq: int = 1,
                    ) -> Iterator[dict[str, Any]]:
    """Every record of ``area`` as an operation (``operation.v1``), in load order."""
    seq = first_seq
    for form, record in area.records():
        if form in (HOUSEHOLD_FORM, MEMBER_FORM):
            op_type, key = "upsert", "id"
        elif form == WOMAN_FORM:
            op_type, key = "upsert", "member_id"
        elif form == DISTRIBUTION_FORM:
            op_type, key = "distribution", "id"
        else:
            op_type, key = "event", "id"
        fields = {k: v for k, v in record.items() if k != key} if op_type == "upsert" \
            else record
        yield make_op(seq, clock.now(), op_type, form, 1, record[key], fields)
        seq += 1
