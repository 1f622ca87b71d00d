"""A generated area as a device's outbox: the operations its collaborator would send.

Benchmarks and end-to-end tests feed the real ingest path with realistic traffic,
each operation stamped by a device clock. Two kinds:

* a first upload (:func:`area_operations`): registering households and members (A0
  upserts), the woman/couple form, then the period's change-slip events and
  distributions;
* the steady state (:func:`register_at` + :func:`change_operations`): the register
  is on the server already, and the collaborator sends what changed month by month.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from a0core.hlc import HybridClock
from a0core.merge import Stamp
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
    for seq, (form, record) in enumerate(area.records(), first_seq):
        yield record_op(seq, clock.now(), form, record)


def record_op(seq: int, hlc: int, form: str, record: dict[str, Any]) -> dict[str, Any]:
    """The operation that sends one generated record: an upsert of an entity (keyed by
    its id, a woman's record by the member's), else an event or a distribution."""
    if form in (HOUSEHOLD_FORM, MEMBER_FORM, WOMAN_FORM):
        key = "member_id" if form == WOMAN_FORM else "id"
        return make_op(seq, hlc, "upsert", form, 1, record[key],
                       {k: v for k, v in record.items() if k != key})
    kind = "distribution" if form == DISTRIBUTION_FORM else "event"
    return make_op(seq, hlc, kind, form, 1, record["id"], record)


def record_day(form: str, record: dict[str, Any]) -> str | None:
    """The day a generated record is dated (None for a household)."""
    return record.get(_DATED.get(form, "event_date"))


# --- the steady state: a register already there, and the months of changes after it

_DATED = {MEMBER_FORM: "registered_on", WOMAN_FORM: "recorded_on",
          DISTRIBUTION_FORM: "distributed_on"}
_BASIC = ("full_name", "sex", "birth_date", "ethnicity", "education", "bhyt_number")


def register_at(area: AreaRegister, start: str) -> AreaRegister:
    """The area's register as it stood on ``start`` (ISO date): what a bulk load holds
    before the collaborator's first sync — households, and every record dated before
    it (:func:`change_operations` sends the rest)."""
    return replace(
        area, members=[m for m in area.members if m["registered_on"] < start],
        woman_status=[w for w in area.woman_status if w["recorded_on"] < start],
        events=[e for e in area.events if e["event_date"] < start],
        distributions=[d for d in area.distributions if d["distributed_on"] < start])


def change_operations(area: AreaRegister, start: str, clock: HybridClock, device: str,
                      loaded: Stamp, first_seq: int = 1) -> Iterator[dict[str, Any]]:
    """What ``device`` sends after ``start``, in the order of the days it happened.

    The P0 change slip: people registered on arrival, woman/couple records, events
    and distributions dated from ``start``; and, for each change of basic information,
    the A0 correction itself: an upsert of the changed member fields, based on what
    the device holds (the ``loaded`` register it pulled, or its own later writes),
    so it is a sequential edit, not a conflict.
    """
    dated: list[tuple[str, int, str, dict[str, Any]]] = []
    for n, (form, record) in enumerate(area.records()):
        day = record_day(form, record)
        if form != HOUSEHOLD_FORM and day is not None and day >= start:
            dated.append((day, n, form, record))
    dated.sort(key=lambda item: item[:2])
    seen: dict[str, dict[str, Stamp]] = {}  # member id -> field -> the device's last write
    seq = first_seq
    for _, _, form, record in dated:
        op = record_op(seq, clock.now(), form, record)
        if form == MEMBER_FORM:
            seen[record["id"]] = dict.fromkeys(record, (op["hlc"], device))
        elif form == "birth":
            seen[record["child_id"]] = dict.fromkeys(_BASIC, (op["hlc"], device))
        yield op
        seq += 1
        changed = {k: record[k] for k in _BASIC if k in record}
        if form == "change_info" and changed:
            stamps = seen.setdefault(record["member_id"], {})
            op = make_op(seq, clock.now(), "upsert", MEMBER_FORM, 1, record["member_id"],
                         changed, base={k: stamps.get(k, loaded) for k in changed})
            stamps.update(dict.fromkeys(changed, (op["hlc"], device)))
            yield op
            seq += 1
