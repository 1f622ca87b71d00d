"""Load whole areas of register records at once (demo data, benchmarks, migrations).

Sync ingestion applies operations one batch at a time; this path is for data that
is already trusted and complete, such as the synthetic register: it folds every
member's events in memory and inserts rows with ``executemany``. Both paths derive
columns through :mod:`server.register.materialise` and fold through
:mod:`a0core.projection`, so the result is the same register.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from a0core.projection import EventRef, child_from_birth, member_state
from server.models.register import Distribution, Event, Household, Member
from server.register.materialise import (
    distribution_columns,
    event_columns,
    household_columns,
    member_columns,
)
from server.register.sequence import allocate


class AreaRecords(Protocol):
    """What the loader needs: the shape of :class:`server.synthetic.AreaRegister`."""

    area_code: str
    households: Sequence[Mapping[str, Any]]
    members: Sequence[Mapping[str, Any]]
    woman_status: Sequence[Mapping[str, Any]]
    events: Sequence[Mapping[str, Any]]
    distributions: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Writer:
    """Who the loaded rows are attributed to, and the stamp their fields carry."""

    device: str
    hlc: int


@dataclass
class LoadCounts:
    households: int = 0
    members: int = 0
    events: int = 0
    distributions: int = 0


def _stamped(record: Mapping[str, Any], writer: Writer) -> dict[str, Any]:
    return {name: [writer.hlc, writer.device] for name in record}


def _place(province: str, commune: str, area: str, seq: int) -> dict[str, Any]:
    return {"province_code": province, "commune_code": commune, "area_code": area, "seq": seq}


def load_area(session: Session, records: AreaRecords, province_code: str, commune_code: str,
              writer: Writer) -> LoadCounts:
    """Insert one area's households, members, events and distributions."""
    events = [({k: v for k, v in e.items() if k != "form"}, e["form"]) for e in records.events]
    members: dict[str, dict[str, Any]] = {m["id"]: dict(m) for m in records.members}
    for status in records.woman_status:
        members[status["member_id"]].update(
            {k: v for k, v in status.items() if k != "member_id"})
    for record, form in events:
        if form == "birth":
            child = child_from_birth(record, members.get(record["member_id"], {}))
            members.setdefault(child["id"], child)

    own: dict[str, list[EventRef]] = defaultdict(list)
    for record, form in events:
        own[record["member_id"]].append(EventRef(form, record, writer.hlc, writer.device))
    child_deaths: dict[str, list[EventRef]] = defaultdict(list)
    for member in members.values():
        if member.get("mother_id"):
            child_deaths[member["mother_id"]] += [e for e in own.get(member["id"], [])
                                                  if e.form == "death"]

    n_rows = len(records.households) + len(members) + len(events) + len(records.distributions)
    seq = allocate(session, province_code, max(n_rows, 1))
    area = records.area_code

    def rows(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal seq
        out = []
        for item in items:
            out.append({**item, **_place(province_code, commune_code, item.pop("_area", area),
                                         seq)})
            seq += 1
        return out

    household_rows = rows(
        {"id": h["id"], "data": dict(h), "clocks": _stamped(h, writer), **household_columns(h),
         "_area": h["area_code"]} for h in records.households)
    member_rows = rows(
        {"id": mid, "data": data, "clocks": (clocks := _stamped(data, writer)),
         **member_columns(data, member_state(mid, data, clocks, own.get(mid, []),
                                             child_deaths.get(mid, [])))}
        for mid, data in members.items())
    event_rows = rows(
        {**event_columns(record), "form": form, "form_version": 1, "hlc": writer.hlc,
         "device_id": writer.device} for record, form in events)
    distribution_rows = rows(
        {**distribution_columns(d), "form_version": 1, "hlc": writer.hlc,
         "device_id": writer.device, "_area": d["area_code"]} for d in records.distributions)
    for model, batch in ((Household, household_rows), (Member, member_rows),
                         (Event, event_rows), (Distribution, distribution_rows)):
        if batch:
            session.execute(insert(model), batch)
    return LoadCounts(len(household_rows), len(member_rows), len(event_rows),
                      len(distribution_rows))


def refresh_statistics(session: Session) -> None:
    """Give PostgreSQL's planner the loaded tables' statistics now (``ANALYZE``), in the
    caller's transaction.

    Autovacuum analyses a table a minute or more after it grew; until then the planner
    takes a freshly loaded register for an empty one, and a batch's look-ups by member
    run as hash joins over whole tables (a refold's events: 28 ms instead of 0.7 ms).
    Nothing on SQLite, which plans from its indexes alone without ``sqlite_stat1``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
