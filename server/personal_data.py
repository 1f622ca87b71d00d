"""One person's data, as the Personal Data Protection Law asks (Law 91/2025/QH15,
Decree 356/2025): everything held about them, and their erasure. No Flask.

:func:`report` gathers the member record, their household, their events and
distributions, the events of others that name them (a birth, a marriage), the
operations devices sent about them, conflicts, duplicate pairs, aliases, and who
read them: audit rows that name them, and person-level exports and feeds whose
scope covered their commune.

:func:`erase` removes what identifies them, in one transaction, audited:

* the member row becomes a tombstone (``deleted``, ``data`` reduced to
  ``{"household_id", "erased": true}``, every personal column emptied) with a new
  change number, so devices pull it and wipe their copy (the app drops the record
  and its facts), and it is purged with other tombstones later;
* their events are voided and emptied, the names others' events give them are
  removed, their distributions no longer name them;
* the ledger keeps each operation's hash (exactly-once still holds) but not its
  fields; conflict values on them and duplicate pairs with them go.

The person thereby leaves the register and its figures (the roll-ups of the months
touched are recomputed through the after-batch hooks). Audit rows stay, with ids
only, for their retention period.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.base import utcnow
from server.models.duplicates import DuplicateCandidate
from server.models.people import AuditLog, Collaborator, Device
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import Alias, Conflict, SyncOp
from server.security import audit
from server.sync.applier import WHOLE, Touched
from server.sync.workset import Sequencer

BULK_READS = ("export.persons", "district_api.read")
NAMES_OF_OTHERS = {"child_id": "child_name", "spouse_id": "spouse_name"}


def _member(session: Session, member_id: str) -> Member:
    found = session.get(Member, member_id) if isinstance(member_id, str) else None
    if found is None:
        raise A0Error("person_unknown", record=str(member_id)[:40])
    return found


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _mentions(session: Session, member_id: str) -> list[Event]:
    """Events of other persons whose payload names this one (a child, a spouse)."""
    text = cast(Event.payload, String)
    return [e for e in session.scalars(select(Event).where(
        Event.member_id != member_id, text.contains(member_id)))
        if any(e.payload.get(ref) == member_id for ref in NAMES_OF_OTHERS)]


def _without_names(record: dict[str, Any], member_id: str) -> dict[str, Any]:
    """Another person's record without the name it gives ``member_id``."""
    names = {name for ref, name in NAMES_OF_OTHERS.items() if record.get(ref) == member_id}
    return {k: v for k, v in record.items() if k not in names}


def _about(session: Session, member: Member) -> tuple[list[Event], list[Distribution],
                                                      list[SyncOp]]:
    events = list(session.scalars(select(Event).where(Event.member_id == member.id)
                                  .order_by(Event.event_date, Event.id)))
    handed = list(session.scalars(select(Distribution).where(
        Distribution.member_id == member.id).order_by(Distribution.distributed_on)))
    ids = [member.id, *(e.id for e in events), *(d.id for d in handed),
           *(e.id for e in _mentions(session, member.id))]
    ops = list(session.scalars(select(SyncOp).where(SyncOp.entity_id.in_(ids))
                               .order_by(SyncOp.received_at, SyncOp.device_id, SyncOp.seq)))
    return events, handed, ops


def report(session: Session, member_id: str, *, by: str) -> dict[str, Any]:
    """Everything held about one person, and who read it; the request is audited
    (the caller commits)."""
    member = _member(session, member_id)
    household = session.get(Household, member.household_id)
    events, handed, ops = _about(session, member)
    devices = {d.id: {"device_id": d.id, "label": d.label, "collaborator": c.full_name}
               for d, c in session.execute(select(Device, Collaborator).join(
                   Collaborator, Collaborator.id == Device.collaborator_id).where(
                   Device.id.in_({op.device_id for op in ops})))}
    named = or_(AuditLog.target.contains(member.id),
                cast(AuditLog.details, String).contains(member.id))
    covered = AuditLog.action.in_(BULK_READS) & or_(
        AuditLog.commune_code == member.commune_code,
        AuditLog.commune_code.is_(None) & or_(AuditLog.province_code == member.province_code,
                                              AuditLog.province_code.is_(None)))

    def read(row: AuditLog) -> dict[str, Any]:
        return {"at": _when(row.at), "actor": f"{row.actor_type}:{row.actor_id}",
                "action": row.action, "target": row.target, "ip": row.ip,
                "rows": row.row_count}

    out = {
        "person": {"id": member.id, "household_id": member.household_id,
                   "province_code": member.province_code, "commune_code": member.commune_code,
                   "area_code": member.area_code, "data": member.data,
                   "deleted": member.deleted, "merged_into": member.merged_into,
                   "created_at": _when(member.created_at),
                   "updated_at": _when(member.updated_at)},
        "household": {"id": household.id, "number": household.number,
                      "address": household.address} if household else None,
        "events": [{"id": e.id, "form": e.form, "event_date": e.event_date,
                    "voided": e.voided, "payload": e.payload} for e in events],
        "distributions": [{"id": d.id, "method": d.method, "quantity": d.quantity,
                           "distributed_on": d.distributed_on, "voided": d.voided}
                          for d in handed],
        "named_in": [{"id": e.id, "form": e.form, "member_id": e.member_id,
                      "event_date": e.event_date} for e in _mentions(session, member.id)],
        "operations": [{"device_id": op.device_id, "seq": op.seq, "type": op.type,
                        "form": op.form, "status": op.status, "code": op.code,
                        "received_at": _when(op.received_at)} for op in ops],
        "written_by": sorted(devices.values(), key=lambda d: d["device_id"]),
        "conflicts": [{"id": c.id, "field": c.field, "status": c.status,
                       "created_at": _when(c.created_at)}
                      for c in session.scalars(select(Conflict).where(
                          Conflict.entity_id == member.id))],
        "duplicate_pairs": [{"id": c.id, "other": c.b_id if c.a_id == member.id else c.a_id,
                             "status": c.status, "score": c.score}
                            for c in session.scalars(select(DuplicateCandidate).where(
                                or_(DuplicateCandidate.a_id == member.id,
                                    DuplicateCandidate.b_id == member.id)))],
        "aliases": [{"old_id": a.old_id, "survivor_id": a.survivor_id, "active": a.active}
                    for a in session.scalars(select(Alias).where(or_(
                        Alias.old_id == member.id, Alias.survivor_id == member.id)))],
        "read_by": [read(r) for r in session.scalars(select(AuditLog).where(named)
                                                     .order_by(AuditLog.at))],
        "read_in_bulk_by": [read(r) for r in session.scalars(select(AuditLog).where(covered)
                                                             .order_by(AuditLog.at))],
    }
    audit.record(session, by, "person.report", target=f"member:{member.id}",
                 province_code=member.province_code, commune_code=member.commune_code)
    return out


def erase(session: Session, member_id: str, *, by: str, reason: str,
          hooks: Any = ()) -> dict[str, int]:
    """Erase one person (see the module's docstring); the caller commits. Returns what
    was changed, by kind."""
    member = _member(session, member_id)
    if member.data.get("erased"):
        return {"members": 0, "events": 0, "operations": 0}
    if not reason.strip():
        raise A0Error("field_required", field="reason", label_vi="Lý do", label_en="Reason")
    sequencer = Sequencer(session, member.province_code)
    sequencer.reserve(8)
    events, handed, ops = _about(session, member)
    own = {member.id, *(e.id for e in events), *(d.id for d in handed)}
    touched = Touched(events=None)  # events voided: every area's stocks recomputed
    for event in events:
        touched.months.add((event.area_code, event.event_date[:7]))
        event.payload = {"id": event.id, "member_id": member.id, "erased": True}
        event.voided, event.seq = True, sequencer()
    for event in _mentions(session, member.id):
        event.payload, event.seq = _without_names(event.payload, member.id), sequencer()
    for distribution in handed:
        distribution.member_id, distribution.seq = None, sequencer()
    for op in ops:
        kept = {} if op.entity_id in own else _without_names(op.payload.get("fields") or {},
                                                             member.id)
        op.payload = {**op.payload, "fields": kept, "erased": True}
    session.execute(update(Conflict).where(Conflict.entity_id == member.id).values(
        a_value=None, b_value=None, resolved_value=None))
    session.execute(delete(DuplicateCandidate).where(or_(
        DuplicateCandidate.a_id == member.id, DuplicateCandidate.b_id == member.id)))
    member.data = {"household_id": member.household_id, "erased": True}
    member.clocks = {}
    for column in ("relation", "ethnicity", "bhyt_number", "mother_id", "residence_status",
                   "marital_status", "current_method", "method_start", "living_children",
                   "expected_date", "death_date", "moved_out_on", "block_initials",
                   "block_pair"):
        setattr(member, column, None)
    member.full_name, member.sex, member.birth_date, member.birth_year = "", "", "", 0
    member.pregnant, member.deleted, member.seq = False, True, sequencer()
    member.updated_at = utcnow()
    touched.wrote("member", member.id, [WHOLE])
    touched.months.add((member.area_code, utcnow().strftime("%Y-%m")))
    session.flush()
    for hook in hooks:
        hook(session, touched)
    audit.record(session, by, "person.erase", target=f"member:{member.id}",
                 province_code=member.province_code, commune_code=member.commune_code,
                 details={"reason": reason[:500], "events": len(events),
                          "operations": len(ops)})
    return {"members": 1, "events": len(events), "operations": len(ops)}
