"""A season of device traffic for ``a0sync demo``, through the real sync path.

A demo where no device ever synced shows empty queues. Here a few collaborators'
phones are enrolled with real one-time codes (:func:`server.security.enrolment`)
and send sealed, signed batches (:func:`a0core.sync_client.seal`) that the server
ingests exactly as it would from the network (:func:`server.sync.ingest.ingest_batch`)
or from a file carried in by hand (:func:`server.sync.carried.import_carried_batch`),
with the after-batch hooks (roll-ups, duplicate detection): over the last three
closed months, week by week, what the synthetic register says happened in those
areas (:func:`server.synthetic.operations.change_operations`) and each month's P0
slip, closed on the first days of the next month. On top:

* a substitute collaborator's phone edited three people of one area (one a month)
  while the regular phone did too: three **conflicts** wait for review, each from
  the day its batch arrived;
* a phone registered two people who were already in another area's register,
  written a little differently: **duplicate** pairs wait for review;
* one area is **late**: its slip of the newest month past its deadline has not
  arrived, and the month before came after the deadline;
* one batch came in **as a file**, after the next batch had come over the network;
* one hand-out with a method code the server does not know was **refused**;
* the station's **stock**: receipts from the district, monthly issues to the
  collaborators with a phone, confirmed by their phones (:mod:`server.demo_stock`).

Time is the season's: the ingestion context's clock (``now_ms``) and the phones'
clocks move from batch to batch, so receipts, slips and sync status carry the days
they would have. Seeded: the same commune gives the same season.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from a0core import p0
from a0core.envelope import DeviceKeys
from a0core.hlc import HybridClock, pack
from a0core.sync_client import make_op, seal
from server.demo_stock import StationRecord, plan_stock
from server.logistics import station
from server.models.people import Collaborator
from server.security.cli import cli_scope
from server.security.enrolment import enrol_device, issue_code
from server.security.keys import KeyStore
from server.sync.carried import import_carried_batch
from server.sync.ingest import IngestContext, ingest_batch
from server.synthetic.duplicates import drop_middle, strip_diacritics
from server.synthetic.generator import AreaRegister
from server.synthetic.operations import change_operations, record_day

VN = dt.timezone(dt.timedelta(hours=7))
SEASON_MONTHS = 3       # closed months the phones report, this month's days too
PHONES = 4              # areas with a phone (the first ones)
SYNC_HOUR = 16          # phones sync in the afternoon, on Fridays and slip days
PROGRAMME_SOURCE = "free"  # distribution_source of the programme's supply


def season_start(today: dt.date) -> dt.date:
    """The first day of the season: three closed months ago."""
    return p0.first_day(p0.shift(p0.last_closed_month(today), 1 - SEASON_MONTHS))


def loaded_stamp(start: dt.date) -> int:
    """The stamp of the bulk-loaded register: the evening before the season."""
    return pack(int(dt.datetime.combine(start, dt.time(), VN).timestamp() * 1000) - 3_600_000)


@dataclass
class Phone:
    """One enrolled phone: its keys, clock and the operations it will send."""

    device_id: str
    keys: DeviceKeys
    clock: HybridClock
    area: AreaRegister
    planned: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # day, order, op

    def plan(self, day: str, op: dict[str, Any]) -> None:
        self.planned.append((day, len(self.planned), op))

    def numbered(self) -> list[tuple[str, dict[str, Any]]]:
        """The planned operations in day order, numbered 1, 2, … (hash included)."""
        out = []
        for seq, (day, _, op) in enumerate(sorted(self.planned, key=lambda p: p[:2]), 1):
            out.append((day, make_op(seq, op["hlc"], op["type"], op["form"], op["version"],
                                     op["id"], op["fields"], op.get("base"))))
        return out


class Season:
    """The season's clock and the sync path the phones use."""

    def __init__(self, session: Session, base: IngestContext, keys: KeyStore,
                 start: dt.date, now: dt.datetime, seed: int) -> None:
        self.session, self.start, self.now = session, start, now
        self.rng = random.Random(f"season:{seed}")
        self._ms = int(dt.datetime.combine(start, dt.time(8), VN).timestamp() * 1000)
        self.ctx = replace(base, clock=HybridClock(self._now), now_ms=self._now)
        self.server_key = keys.public()
        self.phones: list[Phone] = []

    def _now(self) -> int:
        return self._ms

    def at(self, moment: dt.datetime) -> None:
        self._ms = max(self._ms, int(moment.timestamp() * 1000))

    def enrol(self, collaborator: Collaborator, area: AreaRegister, label: str) -> Phone:
        """A real one-time code, spent by a new phone's keys."""
        when = dt.datetime.fromtimestamp(self._ms / 1000, dt.UTC)
        code, _row = issue_code(self.session, area_code=collaborator.area_code,
                                collaborator=collaborator, created_by="demo",
                                scope=cli_scope(), now=when)
        keys = DeviceKeys.generate()
        answer = enrol_device(self.session, code=code, sign_public_key=keys.sign_public_key,
                              box_public_key=keys.box_public_key, label=label,
                              server_key=self.server_key, now=when)
        self.session.commit()
        phone = Phone(answer["device_id"], keys, HybridClock(self._now), area)
        self.phones.append(phone)
        return phone

    def send(self, phone: Phone, ops: Sequence[dict[str, Any]], moment: dt.datetime,
             carried: bool = False) -> dict[str, Any]:
        """Seal ``ops`` on the phone at ``moment`` and deliver them: over the network,
        or as a file a commune officer imports."""
        self.at(moment)
        envelope = seal(ops, device_id=phone.device_id, keys=phone.keys,
                        server_key=self.server_key, hlc=phone.clock.now()).envelope
        if carried:
            receipt = import_carried_batch(self.session, envelope, self.ctx, cli_scope(),
                                           filename=f"{phone.area.area_code}.a0b")
        else:
            receipt = ingest_batch(self.session, envelope, self.ctx)["receipt"]
            self.session.commit()
        phone.clock.observe(receipt["server_hlc"])
        return receipt

    # ------------------------------------------------------------------ the plan

    def sync_days(self, extra: Iterable[str]) -> list[str]:
        """Fridays from the season's start to today, and the days slips were closed."""
        days = set(extra)
        day = self.start
        today = self.now.astimezone(VN).date()
        while day <= today:
            if day.weekday() == 4:
                days.add(day.isoformat())
            day += dt.timedelta(days=1)
        days.add(today.isoformat())
        return sorted(d for d in days if d <= today.isoformat())

    def moment(self, day: str) -> dt.datetime:
        """When a phone synced on ``day``: the afternoon, or a while ago today."""
        at = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(SYNC_HOUR), VN)
        return min(at, self.now - dt.timedelta(minutes=20 + self.rng.randint(0, 90)))

    def schedule(self, phone: Phone, days: Sequence[str], carried_batch: int | None = None
                 ) -> list[Delivery]:
        """The phone's operations, each in its first sync on or after its day; batch
        number ``carried_batch`` goes as a file, imported the day after the next sync."""
        numbered = phone.numbered()
        out: list[Delivery] = []
        i = 0
        for day in days:
            ops = []
            while i < len(numbered) and numbered[i][0] <= day:
                ops.append(numbered[i][1])
                i += 1
            if ops:
                out.append(Delivery(self.moment(day), self.phones.index(phone), phone, ops))
        if carried_batch is not None and carried_batch + 1 < len(out):
            late = out[carried_batch + 1].moment + dt.timedelta(hours=17)
            out[carried_batch] = replace(out[carried_batch], carried=True,
                                         moment=min(late, self.now - dt.timedelta(minutes=5)))
        return out

    def record(self, entry: StationRecord) -> None:
        """A stock form the station records on the dashboard at ``entry.moment``."""
        self.at(entry.moment)
        station.record(self.session, self.ctx, cli_scope(), entry.commune, entry.form,
                       entry.values, record_id=entry.record_id)
        self.session.commit()

    def run(self, deliveries: Iterable[Delivery], records: Iterable[StationRecord] = ()
            ) -> None:
        """Every phone's batches and the station's records, in the order they reached
        the server."""
        timeline: list[tuple[dt.datetime, int, Delivery | StationRecord]] = [
            (d.moment, d.order, d) for d in deliveries]
        timeline += [(r.moment, -1, r) for r in records]
        for _, _, item in sorted(timeline, key=lambda t: t[:2]):
            if isinstance(item, StationRecord):
                self.record(item)
            else:
                self.send(item.phone, item.ops, item.moment, carried=item.carried)


@dataclass(frozen=True)
class Delivery:
    moment: dt.datetime
    order: int
    phone: Phone
    ops: list[dict[str, Any]]
    carried: bool = False


def plan_changes(phone: Phone, start: dt.date, distribution_version: int) -> None:
    """What the register says happened in the phone's area from ``start``. Its hand-outs
    go on the current distribution form: the phone runs today's app, and what it hands
    out is the station's stock from the district, the programme's supply, which
    ``schemas/codelists/distribution_source.json`` calls free (no price asked)."""
    day = start.isoformat()
    for op in change_operations(phone.area, start.isoformat(), phone.clock, phone.device_id,
                                (loaded_stamp(start), "server")):
        day = record_day(op["form"], op["fields"]) or day
        if op["type"] == "distribution":
            op = {**op, "version": distribution_version,
                  "fields": {**op["fields"], "source": PROGRAMME_SOURCE}}
        phone.plan(max(day, start.isoformat()), op)


def plan_slips(phone: Phone, months: Sequence[str], late: str | None = None,
               missing: str | None = None) -> list[str]:
    """Each month's P0 slip with the area's counts, closed on one of the first days of
    the next month (``late``: after the deadline; ``missing``: not closed yet).
    Returns the days slips were closed."""
    entries = [(e["form"], e["event_date"]) for e in phone.area.events]
    entries += [("distribution", d["distributed_on"]) for d in phone.area.distributions]
    counts = p0.count_entries(entries)
    days = []
    for month in months:
        if month == missing:
            continue
        deadline = p0.deadline(month)
        closed = deadline + dt.timedelta(days=4) if month == late else \
            deadline - dt.timedelta(days=1 + len(days) % 3)
        report_id = str(uuid.uuid4())
        phone.plan(closed.isoformat(), make_op(
            1, phone.clock.now(), "report", "p0_report", 1, report_id,
            {"id": report_id, "area_code": phone.area.area_code, "month": month,
             "closed_on": closed.isoformat(), **p0.empty_counts(),
             **counts.get(month, {})}))
        days.append(closed.isoformat())
    return days


def plan_edits(phone: Phone, members: Sequence[dict[str, Any]], day: str,
               values: Sequence[dict[str, Any]], start: dt.date) -> None:
    """A0 corrections of ``members``, each based on the register as loaded."""
    stamp = (loaded_stamp(start), "server")
    for member, fields in zip(members, values, strict=True):
        phone.plan(day, make_op(1, phone.clock.now(), "upsert", "member", 1, member["id"],
                                fields, base=dict.fromkeys(fields, stamp)))


def plan_registered_twice(phone: Phone, people: Sequence[dict[str, Any]], day: str,
                          rng: random.Random) -> None:
    """People already in another area's register, registered here again as newcomers
    (a move nobody recorded), their names written a little differently."""
    village = phone.area.households[0]["village_code"]
    for n, person in enumerate(people):
        household_id, member_id = str(uuid.uuid4()), str(uuid.uuid4())
        name = drop_middle(person["full_name"], rng) if n % 2 else \
            strip_diacritics(person["full_name"])
        phone.plan(day, make_op(1, phone.clock.now(), "upsert", "household", 1, household_id,
                                {"area_code": phone.area.area_code, "village_code": village,
                                 "number": str(900 + n), "head_member_id": member_id}))
        fields = {k: v for k, v in person.items() if k not in (
            "id", "household_id", "mother_id", "father_id", "spouse_id", "bhyt_number")}
        phone.plan(day, make_op(1, phone.clock.now(), "upsert", "member", 1, member_id, {
            **fields, "household_id": household_id, "full_name": name, "relation": "head",
            "registered_on": day}))


def plan_refused(phone: Phone, day: str, version: int) -> None:
    """A hand-out with a method the server's code list does not have: refused, shown."""
    household = phone.area.households[-1]
    record = {"id": str(uuid.uuid4()), "area_code": phone.area.area_code,
              "household_id": household["id"], "method": "vong_tranh_thai_cu",
              "quantity": 1, "distributed_on": day, "source": PROGRAMME_SOURCE}
    phone.plan(day, make_op(1, phone.clock.now(), "distribution", "distribution", version,
                            record["id"], record))


def run_season(session: Session, base: IngestContext, keys: KeyStore,
               areas: Sequence[AreaRegister], collaborators: dict[str, Collaborator],
               start: dt.date, now: dt.datetime, seed: int, deadline_day: int) -> int:
    """The season for the first :data:`PHONES` areas (loaded as they stood on
    ``start``); returns the number of batches the server received."""
    season = Season(session, base, keys, start, now, seed)
    today = now.astimezone(VN).date()
    with_phones = areas[:PHONES]
    phones = [season.enrol(collaborators[a.area_code], a,
                           f"Máy {collaborators[a.area_code].full_name.split()[-1]}")
              for a in with_phones]
    regular = collaborators[with_phones[0].area_code]
    stand_in = Collaborator(full_name="Phạm Thị Thu Hằng", area_code=regular.area_code,
                            commune_code=regular.commune_code,
                            province_code=regular.province_code, phone="0912345678")
    session.add(stand_in)
    session.flush()
    substitute = season.enrol(stand_in, with_phones[0], "Máy trạm y tế (dự phòng)")

    months = [p0.shift(p0.month_of(start), i) for i in range(SEASON_MONTHS)]
    overdue = p0.last_closed_month(today)
    if today <= p0.deadline(overdue, deadline_day):
        overdue = p0.shift(overdue, -1)
    extra_days = set()
    version = base.forms.registry.latest_version("distribution") or 1
    for n, phone in enumerate(phones):
        plan_changes(phone, start, version)
        late = n == 2  # this area is late: the month past its deadline is missing
        extra_days |= set(plan_slips(phone, months, late=p0.shift(overdue, -1) if late else None,
                                     missing=overdue if late else None))
    # the regular phone and the stand-in's both corrected three people, one a month
    # (the stand-in a day later, before the regular phone's edit reached it): conflicts
    loaded = [m for m in with_phones[0].members
              if m["registered_on"] < start.isoformat() and m["relation"] == "head"][:3]
    for n, (member, own, other) in enumerate(zip(loaded, (
            {"marital_status": "widowed"}, {"education": "college_university"},
            {"marital_status": "separated"}), (
            {"marital_status": "divorced"}, {"education": "vocational"},
            {"marital_status": "married"}), strict=False)):
        edit_day = (start + dt.timedelta(days=17 + 28 * n)).isoformat()
        stand_in_day = (start + dt.timedelta(days=18 + 28 * n)).isoformat()
        plan_edits(phones[0], [member], edit_day, [own], start)
        plan_edits(substitute, [member], stand_in_day, [other], start)
        extra_days |= {edit_day, stand_in_day}
    # people of another area registered again as newcomers: duplicates
    elsewhere = [m for m in areas[PHONES].members
                 if m["registered_on"] < start.isoformat() and m["birth_date"] < "1990"][:2]
    plan_registered_twice(phones[1], elsewhere, (start + dt.timedelta(days=30)).isoformat(),
                          season.rng)
    plan_refused(phones[2], (start + dt.timedelta(days=9)).isoformat(), version)

    stock_records = plan_stock(phones, regular.commune_code, start, today, VN)

    days = season.sync_days(extra_days)
    deliveries = [d for n, phone in enumerate(phones)
                  for d in season.schedule(phone, days, carried_batch=2 if n == 3 else None)]
    deliveries += season.schedule(substitute, days)
    season.run(deliveries, stock_records)
    return len(deliveries)
