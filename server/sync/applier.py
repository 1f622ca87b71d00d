"""Apply one operation to the workset and say what happened to it (DESIGN §3.5–3.6).

Each ``apply_*`` returns a :class:`Verdict`. Anything refused raises or returns a
rejection *before* changing a row, so a rejected operation changes nothing. An
operation whose household, member or event has not arrived yet *waits* instead
of failing, and is applied when that record arrives.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from a0core.applicability import applicability as applicability_of
from a0core.errors import DETAILS, A0Error, ValidationFailed
from a0core.forms import FormSet
from a0core.merge import Write, merge_fields
from a0core.p0 import month_over, section_fields, vietnamese_month, vn_day
from a0core.projection import WOMAN_FIELDS, child_from_birth
from a0core.schemas import FormDef
from server.logistics import movements as stock_movements
from server.models.sync import APPLIED, CONFLICT, REJECTED, WAITING
from server.register.materialise import distribution_columns, event_columns
from server.sync.clock import check_ahead
from server.sync.conflicts import ConflictFinder
from server.sync.ops import (
    DELETE,
    DISTRIBUTION,
    EVENT,
    FORM_KIND,
    REPORT,
    STOCK,
    UPSERT,
    VOID,
    Op,
)
from server.sync.workset import Workset

WARNED = "record_warnings"  # the code of an applied verdict that carries warnings


@dataclass(slots=True)
class Verdict:
    """What became of an operation. ``warnings``: what the collaborator should check
    on a record that was kept all the same (the verdict's code is then
    ``record_warnings``, each warning with its own code and messages)."""

    verdict: str
    error: A0Error | None = None
    waiting_on: str | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    entity_id: str | None = None
    warnings: list[A0Error] = field(default_factory=list)

    def to_dict(self, seq: int) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": seq, "verdict": self.verdict}
        if self.error is not None:
            err = self.error.to_dict()
            out.update({k: v for k, v in err.items()
                        if k in {"code", "message_vi", "message_en", "errors", *DETAILS}})
        elif self.warnings:
            out.update(warned(self.warnings))
        if self.waiting_on:
            out["waiting_on"] = self.waiting_on
        if self.conflicts:
            out["conflicts"] = [{"id": c.get("id"), "field": c["field"]} for c in self.conflicts]
        return out


def warned(warnings: list[A0Error] | list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict keys of a kept record's warnings (objects, or as the ledger holds them)."""
    items = [w if isinstance(w, dict) else w.to_dict() for w in warnings]
    summary = A0Error(WARNED, count=len(items))
    return {"code": WARNED, "message_vi": summary.vi, "message_en": summary.en,
            "warnings": items}


class Wait(Exception):
    """Control flow: the operation needs a record that has not arrived."""

    def __init__(self, missing: str) -> None:
        self.missing = missing


@dataclass(slots=True)
class Place:
    """Where the acting device may write: one area (None for the server itself)."""

    area_code: str | None
    commune_code: str
    province_code: str


WHOLE = "*"  # in Touched.fields: the record came, went or was replaced as a whole
# A woman's status (a0core.projection.base_facts) enters every figure as one fact dated
# ``recorded_on``: a new status moves the roll-ups from the earlier of its old and new
# dates on, like an event, not over the whole window
WOMAN_STATUS = frozenset({*WOMAN_FIELDS, "recorded_on"})


@dataclass(slots=True)
class Touched:
    """What a batch changed, for the hooks that follow (roll-ups, duplicate detection):
    records written, with the fields written (a hook skips a record whose changed
    fields it does not read: an education or an address is no roll-up's business),
    and, for facts, the months from which an area's figures change."""

    households: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    months: set[tuple[str, str]] = field(default_factory=set)  # (area_code, YYYY-MM)
    fields: dict[str, set[str]] = field(default_factory=dict)  # record id → fields written
    synced: set[str] = field(default_factory=set)  # areas whose device sent the batch
    place: Place | None = None  # the sending device's, for the work queued after the batch
    # stations whose stock changed: (commune code, YYYY-MM from which), server.logistics
    stations: set[tuple[str, str]] = field(default_factory=set)
    # areas with an event written or voided (None: not known, take every area as such):
    # only those, and edited persons, change the roll-ups' population stocks
    events: set[str] | None = field(default_factory=set)
    # records this batch created (no earlier state anywhere): a new person changes the
    # roll-ups only from the month they enter the register, not over the whole window
    created: set[str] = field(default_factory=set)

    def wrote(self, kind: str, entity_id: str, names: Iterable[str]) -> None:
        (self.members if kind == "member" else self.households).add(entity_id)
        self.fields.setdefault(entity_id, set()).update(names)

    def changed(self, kind: str, read: frozenset[str]) -> set[str]:
        """Ids of the records of ``kind`` whose fields ``read`` the batch changed (every
        one without a field list: a change made outside a batch)."""
        ids = self.members if kind == "member" else self.households
        return {i for i in ids if (written := self.fields.get(i)) is None
                or WHOLE in written or not read.isdisjoint(written)}


class Applier:
    def __init__(self, ws: Workset, forms: FormSet, conflicts: ConflictFinder,
                 now_ms: Callable[[], int], max_ahead_ms: int) -> None:
        self.ws, self.forms, self.conflicts = ws, forms, conflicts
        self.now_ms, self.max_ahead_ms = now_ms, max_ahead_ms
        self.applicability = applicability_of(forms.registry)
        self.touched = Touched()

    # ---------------------------------------------------------------- entry

    def apply(self, op: Op, place: Place) -> Verdict:
        try:
            check_ahead(op.hlc, self.now_ms(), self.max_ahead_ms)
            if op.type == VOID:
                return self._void(op, place)
            form = self._form(op)
            handler = {UPSERT: self._upsert, EVENT: self._event,
                       DISTRIBUTION: self._distribution, DELETE: self._delete,
                       REPORT: self._report, STOCK: self._stock}[op.type]
            return handler(op, form, place)
        except Wait as wait:
            return Verdict(WAITING, waiting_on=wait.missing)
        except A0Error as error:
            return Verdict(REJECTED, error=error)

    def _form(self, op: Op) -> FormDef:
        validator = self.forms.validator(op.form or "", op.version or 0)
        form = validator.form
        if form.kind != FORM_KIND[op.type]:
            raise A0Error("op_form_mismatch", form=op.form, type=op.type)
        return form

    # -------------------------------------------------------------- helpers

    def _validate(self, form: FormDef, record: dict[str, Any]) -> dict[str, Any]:
        return self.forms.validator(form.id, form.version).validate(record)

    def _warnings(self, form: FormDef, record: dict[str, Any],
                  written: Iterable[str] | None) -> list[A0Error]:
        """What to check on a kept record (on the rules of the fields an edit wrote)."""
        return self.forms.validator(form.id, form.version).warnings(
            record, None if written is None else set(written))

    def _require(self, kind: str, entity_id: str) -> dict[str, Any]:
        """A referenced record, through aliases; missing means the operation waits."""
        row = self.ws.get(kind, self.ws.resolve(entity_id))
        if row is None:
            raise Wait(entity_id)
        return row

    def _hard_refs(self, form: FormDef, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Rows of the non-soft references in ``record`` (waits for any that is missing)."""
        rows = {}
        for name, entity in _ref_fields(form)[1]:
            if name in record:
                rows[name] = self._require(entity, record[name])
        return rows

    @staticmethod
    def _in_scope(row: dict[str, Any], place: Place) -> None:
        if place.area_code is not None and row["area_code"] != place.area_code:
            raise A0Error("op_out_of_scope")

    @staticmethod
    def _place_of(row: dict[str, Any]) -> dict[str, Any]:
        return {"province_code": row["province_code"], "commune_code": row["commune_code"],
                "area_code": row["area_code"]}

    def _applies(self, form: FormDef, record: dict[str, Any],
                 person: dict[str, Any] | None) -> None:
        """Refuse a record about someone it cannot be about by sex or age
        (schemas/applicability.json), read from the person's merged record. Not by
        status: that would make the register depend on the order operations arrive
        in (a0core.applicability says more); the app does not offer those."""
        if person is None or self.applicability.rule(form.id) is None:
            return
        found = self.applicability.check(form.id, record, person["data"], status=False)
        if found is not None:
            raise found.error()

    def _month(self, area_code: str, day: str) -> None:
        self.touched.months.add((area_code, day[:7]))

    def _event_in(self, area_code: str) -> None:
        if self.touched.events is not None:
            self.touched.events.add(area_code)

    def _resolve_refs(self, form: FormDef, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` (changed in place) with every reference through aliases."""
        resolve = self.ws.resolve
        for name in _ref_fields(form)[0]:
            value = record.get(name)
            if isinstance(value, str):
                record[name] = resolve(value)
        return record

    # ------------------------------------------------------------- upserts

    def _upsert(self, op: Op, form: FormDef, place: Place) -> Verdict:
        kind = form.entity
        entity_id = self.ws.resolve(op.id)
        row = self.ws.get(kind, entity_id)
        if row is None:
            return self._create(op, form, place, kind, entity_id)
        self._in_scope(row, place)
        if row["deleted"]:
            raise A0Error("op_out_of_scope")
        current = {f.name: row["data"][f.name] for f in form.fields if f.name in row["data"]}
        record = self._validate(form, {**current, **op.fields, form.key_field: op.id})
        if kind == "member":
            self._applies(form, record, row)
        warnings = self._warnings(form, record, op.fields)
        values = {name: record.get(name) for name in op.fields if name != form.key_field}
        refs = self._hard_refs(form, {k: v for k, v in values.items() if v is not None})
        for ref in refs.values():
            self._in_scope(ref, place)
        values = self._resolve_refs(form, values)
        found = []
        for name, value in values.items():
            found += self.conflicts.check(kind, row, Write(name, value, op.stamp,
                                                           op.base.get(name, (0, ""))))
        before = _status_date(row["data"]) if kind == "member" else None
        won = merge_fields(row["data"], row["clocks"], values, op.stamp)
        if won:  # a write older than what is there changes nothing
            self.ws.touch(kind, entity_id)
            fields = set(won)
            if before is not None and not WOMAN_STATUS.isdisjoint(fields):
                after = _status_date(row["data"])
                if before and after:  # both dated: from the earlier one on
                    fields -= WOMAN_STATUS
                    if min(before, after) != _NO_STATUS:
                        self._month(row["area_code"], min(before, after))
                        self._event_in(row["area_code"])
            self._after_entity_change(kind, entity_id, row, fields)
        return Verdict(CONFLICT if found else APPLIED, conflicts=found, entity_id=entity_id,
                       warnings=warnings)

    def _create(self, op: Op, form: FormDef, place: Place, kind: str,
                entity_id: str) -> Verdict:
        if form.id != kind:  # woman_status adds to a member that must exist first
            raise Wait(op.id)
        try:
            record = self._validate(form, {**op.fields, form.key_field: op.id})
        except ValidationFailed as failed:
            if all(e.code == "field_required" for e in failed.errors):
                raise Wait(op.id) from None  # an edit whose record has not arrived yet
            raise
        refs = self._hard_refs(form, record)
        data = self._resolve_refs(form, record)
        data.pop(form.key_field or "", None)
        if kind == "household":
            if place.area_code is not None and data["area_code"] != place.area_code:
                raise A0Error("op_out_of_scope")
            where = {"province_code": place.province_code, "commune_code": place.commune_code,
                     "area_code": data["area_code"]}
        else:
            household = refs["household_id"]
            self._in_scope(household, place)
            where = self._place_of(household)
        row = {"id": entity_id, **where, "data": data,
               "clocks": dict.fromkeys(data, (op.hlc, op.device)),
               "deleted": False, "merged_into": None}
        if kind == "member":
            row.update(_member_links(data))
        self.ws.add(kind, row)
        self._after_entity_change(kind, entity_id, row)
        self.touched.created.add(entity_id)
        return Verdict(APPLIED, entity_id=entity_id,
                       warnings=self._warnings(form, record, None))

    def _after_entity_change(self, kind: str, entity_id: str, row: dict[str, Any],
                             fields: Iterable[str] = (WHOLE,)) -> None:
        if kind == "member":
            self.ws.reproject.add(entity_id)
        self.touched.wrote(kind, entity_id, fields)
        self._month(row["area_code"], _today_month(self.now_ms()))

    # --------------------------------------------------------------- events

    def _event(self, op: Op, form: FormDef, place: Place) -> Verdict:
        if self.ws.get("event", op.id) is not None:
            raise A0Error("entity_exists", id=op.id)
        record = self._validate(form, {**op.fields, "id": op.id})
        refs = self._hard_refs(form, record)
        household = refs["household_id"]
        self._in_scope(household, place)
        subject = refs.get("member_id")
        if subject is not None:
            self._in_scope(subject, place)
        self._applies(form, record, subject)
        target = refs.get("to_household_id")  # household_change: the same area only
        if target is not None and target["area_code"] != household["area_code"]:
            raise A0Error("household_change_area")
        record = self._resolve_refs(form, record)
        row = {**event_columns(record), **self._place_of(household), "form": form.id,
               "form_version": form.version, "hlc": op.hlc, "device_id": op.device,
               "voided": False}
        if form.id == "birth" and subject is not None:
            self._birth_child(op, record, subject)
        self.ws.add("event", row)
        self._refold_for_event(form.id, row)
        self._month(row["area_code"], record["event_date"])
        self._event_in(row["area_code"])
        return Verdict(APPLIED, entity_id=op.id)

    def _birth_child(self, op: Op, birth: dict[str, Any], mother: dict[str, Any]) -> None:
        child_id = self.ws.resolve(birth["child_id"])
        if self.ws.get("member", child_id) is not None:
            return  # registered separately already; the birth still counts for the mother
        data = child_from_birth(birth, mother["data"])
        data.pop("id")
        child = {"id": child_id, **self._place_of(mother), "data": data,
                 "clocks": dict.fromkeys(data, (op.hlc, op.device)),
                 "deleted": False, "merged_into": None, **_member_links(data)}
        self.ws.add("member", child)
        self.ws.reproject.add(child_id)
        self.touched.wrote("member", child_id, (WHOLE,))
        self.touched.created.add(child_id)

    def _refold_for_event(self, form_id: str, event: dict[str, Any]) -> None:
        """Refold whom an event (or its void) is about. Not "touched": an event changes
        no one's identity (so no duplicate re-scoring) and only the months from its
        date on, which the caller records."""
        subject = event["member_id"]
        if form_id == "household_change":  # where a person lives: never late
            self.ws.reproject.add(subject)
        else:
            self.ws.refold_after(subject)
        if form_id == "birth":
            self.ws.reproject.add(event["payload"]["child_id"])
        if form_id == "death":
            row = self.ws.get("member", subject)
            if row and row.get("mother_id"):
                self.ws.refold_after(self.ws.resolve(row["mother_id"]))

    # -------------------------------------------------------- distributions

    def _distribution(self, op: Op, form: FormDef, place: Place) -> Verdict:
        if self.ws.get("distribution", op.id) is not None:
            raise A0Error("entity_exists", id=op.id)
        record = self._validate(form, {**op.fields, "id": op.id})
        if place.area_code is not None and record["area_code"] != place.area_code:
            raise A0Error("op_out_of_scope")
        refs = self._hard_refs(form, record)
        household = refs["household_id"]
        self._in_scope(household, place)
        self._applies(form, record, refs.get("member_id"))
        record = self._resolve_refs(form, record)
        row = {**distribution_columns(record), **self._place_of(household),
               "form_version": form.version, "hlc": op.hlc, "device_id": op.device,
               "voided": False}
        self.ws.add("distribution", row)
        self._month(row["area_code"], record["distributed_on"])
        return Verdict(APPLIED, entity_id=op.id)

    # -------------------------------------------------------- monthly slips

    def _report(self, op: Op, form: FormDef, place: Place) -> Verdict:
        """A closed P0 slip: kept as sent (a later one for the month supersedes it)."""
        if self.ws.get("p0_report", op.id) is not None:
            raise A0Error("entity_exists", id=op.id)
        record = self._validate(form, {**op.fields, "id": op.id})
        if place.area_code is None or record["area_code"] != place.area_code:
            raise A0Error("op_out_of_scope")  # a collaborator closes their own area's slip
        now = _utc_of_ms(self.now_ms())
        if not month_over(record["month"], vn_day(now)):
            raise A0Error("report_month_open", month=vietnamese_month(record["month"]))
        self.ws.add("p0_report", {
            "id": op.id, "province_code": place.province_code,
            "commune_code": place.commune_code, "area_code": place.area_code,
            "month": record["month"], "closed_on": record["closed_on"],
            "counts": {name: record[name] for name in section_fields(form)},
            "form_version": form.version, "hlc": op.hlc, "device_id": op.device,
            "received_at": now})
        self._month(place.area_code, record["month"])
        return Verdict(APPLIED, entity_id=op.id)

    # ------------------------------------------------------ stock (LMIS)

    def _stock(self, op: Op, form: FormDef, place: Place) -> Verdict:
        """A stock movement (server.logistics.movements says who may record what)."""
        if self.ws.get(stock_movements.KIND, op.id) is not None:
            raise A0Error("entity_exists", id=op.id)
        record = self._validate(form, {**op.fields, "id": op.id})
        target = None
        if "transfer_id" in record:  # a confirmation waits for what it confirms
            target = self._require(stock_movements.KIND, record["transfer_id"])
        row = stock_movements.stock_row(
            form, record, hlc=op.hlc, device=op.device, area_code=place.area_code,
            commune_code=place.commune_code, province_code=place.province_code, target=target)
        self.ws.add(stock_movements.KIND, row)
        self._stock_changed(row)
        return Verdict(APPLIED, entity_id=op.id)

    def _stock_changed(self, row: dict[str, Any]) -> None:
        """The months from which the station's and the area's stock figures change."""
        day = stock_movements.first_day(self.ws, row)
        station, area = stock_movements.affected(row)
        if station:
            self.touched.stations.add((row["commune_code"], day[:7]))
        if area:
            self._month(row["area_code"], day)

    # ------------------------------------------------------ voids, deletes

    def _void(self, op: Op, place: Place) -> Verdict:
        kind = op.fields["target"]
        row = self.ws.get(kind, op.id)
        if row is None:
            raise Wait(op.id)
        self._in_scope(row, place)
        if kind == stock_movements.KIND:
            stock_movements.check_void(row, place.area_code)
        if not row["voided"]:
            row["voided"] = True
            self.ws.touch(kind, op.id)
            if kind == "event":
                self._refold_for_event(row["form"], row)
                if row["form"] == "birth":
                    self._withdraw_child(row, op)
                self._month(row["area_code"], row["event_date"])
                self._event_in(row["area_code"])
            elif kind == stock_movements.KIND:
                self._stock_changed(row)
            else:
                self._month(row["area_code"], row["distributed_on"])
        return Verdict(APPLIED, entity_id=op.id)

    def _withdraw_child(self, birth: dict[str, Any], op: Op) -> None:
        """A voided birth takes back the member it created, unless someone else registered it."""
        child_id = self.ws.resolve(birth["payload"]["child_id"])
        child = self.ws.get("member", child_id)
        if child and all(tuple(c) == (birth["hlc"], birth["device_id"])
                         for c in child["clocks"].values()):
            child["deleted"] = True
            self.ws.touch("member", child_id)
            self.touched.wrote("member", child_id, (WHOLE,))

    def _delete(self, op: Op, form: FormDef, place: Place) -> Verdict:
        kind = form.entity
        entity_id = self.ws.resolve(op.id)
        row = self.ws.get(kind, entity_id)
        if row is None:
            raise Wait(op.id)
        self._in_scope(row, place)
        if kind == "household" and self.ws.live_members_of(entity_id):
            raise A0Error("household_not_empty")
        if not row["deleted"]:
            row["deleted"] = True
            self.ws.touch(kind, entity_id)
            self._after_entity_change(kind, entity_id, row)
        return Verdict(APPLIED, entity_id=entity_id)


RefFields = tuple[frozenset[str], tuple[tuple[str, str], ...]]
_REF_FIELDS: dict[int, tuple[FormDef, RefFields]] = {}


def _ref_fields(form: FormDef) -> RefFields:
    """A form's reference fields, and its hard ones (not soft, not the key) with their entity."""
    cached = _REF_FIELDS.get(id(form))
    if cached is not None and cached[0] is form:
        return cached[1]
    refs = [f for f in form.fields if f.type == "ref"]
    found = (frozenset(f.name for f in refs),
             tuple((f.name, f.entity or "") for f in refs
                   if not f.options.get("soft") and f.name != form.key_field))
    _REF_FIELDS[id(form)] = (form, found)
    return found


_NO_STATUS = "~"  # sorts after every date


def _status_date(data: dict[str, Any]) -> str:
    """The date of a member's status fact: :data:`_NO_STATUS` when there is none, ``""``
    when it has no date (it then counts from before any window)."""
    if not any(name in data for name in WOMAN_FIELDS):
        return _NO_STATUS
    return data.get("recorded_on") or ""


def _member_links(data: dict[str, Any]) -> dict[str, Any]:
    """The columns a new member row needs before flush; every other column is derived
    once, by :meth:`Workset._refold` at flush (each new member is always refolded)."""
    return {"household_id": data["household_id"], "mother_id": data.get("mother_id")}


@functools.lru_cache(maxsize=4)
def _month_of_second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m")


def _today_month(now_ms: int) -> str:
    return _month_of_second(now_ms // 1000)


def _utc_of_ms(now_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
