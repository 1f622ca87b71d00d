"""An operation as a person reads it: "Sinh: Lê Thị Hoa, hộ số 12", not "event birth".

The receipt and device pages list what each operation of a batch was. The words come
from ``schemas/`` (the form's title, as the app shows it); the person and the
household from the operation itself or, for an event about someone already in the
register, from the register (two queries for a page of operations, whatever its
length). No Flask here: the pages pass the language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from a0core.schemas import registry
from server import formats
from server.models.register import Household, Member
from server.models.sync import UPSERTS_ONLY, SyncOp

_VOID = {"vi": "Huỷ một bản ghi đã gửi", "en": "Cancel a record sent before"}
_CHILD = {"vi": "con của {mother}", "en": "child of {mother}"}
_HOUSEHOLD = {"vi": "hộ số {n}", "en": "household no. {n}"}
_MONTH = {"vi": "tháng {m}", "en": "{m}"}
_PERSON_KEYS = ("member_id", "recipient_member_id", "mother_id")
_WAIT_PERSON = {"vi": "Chờ hồ sơ của {name} được gửi lên máy chủ",
                "en": "Waiting for the record of {name} to reach the server"}
_WAIT_HOUSEHOLD = {"vi": "Chờ hộ số {n} được gửi lên máy chủ",
                   "en": "Waiting for household no. {n} to reach the server"}
_WAIT_UNKNOWN = {"vi": "Chờ hộ hoặc người mà thao tác này cần được gửi lên máy chủ "
                       "(máy sẽ gửi ở lần đồng bộ sau)",
                 "en": "Waiting for the household or person it needs to reach the server "
                       "(the device sends it at its next sync)"}


def _title(form: str | None, version: int | None, lang: str) -> str:
    if form is None:
        return _VOID[lang]
    found = registry().form(form, version) or registry().form(form)
    return found.title.get(lang, form) if found is not None else form


def _people(session: Session, ops: Iterable[SyncOp]) -> tuple[dict[str, Member],
                                                              dict[str, str]]:
    """Members the operations name, and household numbers by household id."""
    member_ids: set[str] = set()
    household_ids: set[str] = set()
    for op in ops:
        fields = (op.payload or {}).get("fields") or {}
        member_ids.update(fields[k] for k in _PERSON_KEYS if isinstance(fields.get(k), str))
        if op.form == "member" and op.entity_id:
            member_ids.add(op.entity_id)
        if isinstance(fields.get("household_id"), str):
            household_ids.add(fields["household_id"])
    members = {m.id: m for m in session.scalars(
        select(Member).where(Member.id.in_(sorted(member_ids))))} if member_ids else {}
    household_ids.update(m.household_id for m in members.values())
    numbers = {hid: number for hid, number in session.execute(
        select(Household.id, Household.number).where(
            Household.id.in_(sorted(household_ids))))} if household_ids else {}
    return members, numbers


def describe(op: SyncOp, members: Mapping[str, Member], numbers: Mapping[str, str],
             lang: str) -> str:
    """One operation in words, in ``lang`` (vi or en)."""
    fields: dict[str, Any] = (op.payload or {}).get("fields") or {}
    title = _title(op.form, op.form_version, lang)
    if op.type == "void":
        return title
    parts: list[str] = []
    person = next((members.get(fields[k]) for k in _PERSON_KEYS
                   if isinstance(fields.get(k), str) and members.get(fields[k])), None)
    if op.form == "member":
        person = members.get(op.entity_id or "") or person
    name = fields.get("child_name") if op.form == "birth" else fields.get("full_name")
    if name:
        parts.append(str(name))
    elif op.form == "birth" and person is not None:
        parts.append(_CHILD[lang].format(mother=person.full_name))
    elif person is not None:
        parts.append(person.full_name)
    household = fields.get("number") if op.form == "household" else numbers.get(
        fields.get("household_id") or (person.household_id if person else ""))
    if household:
        parts.append(_HOUSEHOLD[lang].format(n=household))
    if op.form == "p0_report" and fields.get("month"):
        parts.append(_MONTH[lang].format(m=formats.month(fields["month"], lang)))
    return f"{title}: {', '.join(parts)}" if parts else title


def describe_ops(session: Session, device_id: str, seqs: Iterable[int],
                 lang: str) -> dict[int, str]:
    """What each operation ``seqs`` of a device was, by sequence number."""
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    ops = list(session.scalars(select(SyncOp).where(SyncOp.device_id == device_id,
                                                    SyncOp.seq.in_(wanted))))
    members, numbers = _people(session, ops)
    return {op.seq: describe(op, members, numbers, lang) for op in ops}


def waits(session: Session, ops: Iterable[SyncOp], lang: str) -> dict[int, str]:
    """What each waiting operation waits for, in words, by sequence number: the person or
    household by name when the register or an operation already stored (one still on
    its way, waiting itself) says it, else a plain sentence. Two or three queries."""
    waiting = [op for op in ops if op.waiting_on]
    if not waiting:
        return {}
    ids = sorted({op.waiting_on for op in waiting if op.waiting_on})
    # names from the operations' own communes only: a device may name any id
    communes = sorted({op.commune_code for op in waiting})
    people: dict[str, str] = dict(session.execute(
        select(Member.id, Member.full_name).where(Member.id.in_(ids),
                                                  Member.commune_code.in_(communes))).all())
    households: dict[str, str] = dict(session.execute(
        select(Household.id, Household.number).where(
            Household.id.in_(ids), Household.commune_code.in_(communes))).all())
    missing = [i for i in ids if i not in people and i not in households]
    if missing:
        for form, entity_id, payload in session.execute(
                select(SyncOp.form, SyncOp.entity_id, SyncOp.payload)
                .where(UPSERTS_ONLY, SyncOp.entity_id.in_(missing),
                       SyncOp.commune_code.in_(communes)).order_by(SyncOp.hlc)):
            fields = (payload or {}).get("fields") or {}
            if form == "member" and fields.get("full_name"):
                people.setdefault(entity_id, str(fields["full_name"]))
            elif form == "household" and fields.get("number"):
                households.setdefault(entity_id, str(fields["number"]))
    out: dict[int, str] = {}
    for op in waiting:
        key = op.waiting_on or ""
        if key in people:
            out[op.seq] = _WAIT_PERSON[lang].format(name=people[key])
        elif key in households:
            out[op.seq] = _WAIT_HOUSEHOLD[lang].format(n=households[key])
        else:
            out[op.seq] = _WAIT_UNKNOWN[lang]
    return out
