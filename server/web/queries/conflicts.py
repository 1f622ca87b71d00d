"""The conflicts queue: open conflicts in scope, with what a reviewer needs to choose."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core.schemas import FieldDef, registry
from server import formats
from server.models.people import Collaborator, Device
from server.models.register import Household, Member
from server.models.sync import Conflict
from server.security.scope import Scope
from server.sync.conflicts import OPEN
from server.sync.review import SERVER_DEVICE
from server.web.queries.paging import Page, paginate


@dataclass
class ConflictView:
    conflict: Conflict
    record: str          # who or what: a member's name, a household's number
    field_vi: str
    field_en: str
    a_label: dict[str, str]  # value shown: {"vi": ..., "en": ...}
    b_label: dict[str, str]
    a_by: str            # the collaborator whose device wrote it
    b_by: str
    fdef: FieldDef | None = None  # how to ask for another value
    options: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # code fields


def _value_label(fdef: FieldDef | None, value: Any) -> dict[str, str]:
    if value is None:
        return {"vi": "(trống)", "en": "(empty)"}
    if fdef is not None and fdef.codelist and isinstance(value, str):
        code = registry().codelist(fdef.codelist).get(value)
        if code is not None:  # the code list's words, not the stored code
            return {"vi": code.vi, "en": code.en}
    if fdef is not None and fdef.type == "date" and isinstance(value, str):
        return {lang: formats.day(value, lang) for lang in formats.LANGS}
    text = str(value)
    return {"vi": text, "en": text}


def _options(fdef: FieldDef | None) -> list[tuple[str, dict[str, str]]]:
    """The codes a reviewer may pick for a code field (as a collaborator may)."""
    return [(code.code, {"vi": code.vi, "en": code.en})
            for code in registry().choices(fdef)] if fdef is not None else []


def _writers(session: Session, device_ids: set[str]) -> dict[str, str]:
    ids = sorted(d for d in device_ids if d != SERVER_DEVICE)
    out = {SERVER_DEVICE: "máy chủ / server"}
    if ids:
        out.update({device: name for device, name in session.execute(
            select(Device.id, Collaborator.full_name).join(
                Collaborator, Collaborator.id == Device.collaborator_id)
            .where(Device.id.in_(ids)))})
    return out


def _records(session: Session, conflicts: list[Conflict]) -> dict[str, str]:
    members = [c.entity_id for c in conflicts if c.entity == "member"]
    households = [c.entity_id for c in conflicts if c.entity == "household"]
    out: dict[str, str] = {}
    if members:
        out.update({i: name for i, name in session.execute(
            select(Member.id, Member.full_name).where(Member.id.in_(members)))})
    if households:
        out.update((i, f"Hộ số {n}") for i, n in session.execute(
            select(Household.id, Household.number).where(Household.id.in_(households))))
    return out


def open_conflicts(session: Session, scope: Scope, page: int, per_page: int,
                   commune: str | None = None) -> Page[ConflictView]:
    stmt = select(Conflict).where(scope.where(Conflict), Conflict.status == OPEN)
    if commune:
        stmt = stmt.where(Conflict.commune_code == commune)
    stmt = stmt.order_by(Conflict.commune_code, Conflict.created_at, Conflict.id)
    raw = paginate(session, stmt, page, per_page, scalars=True)
    conflicts: list[Conflict] = list(raw.items)
    writers = _writers(session, {c.a_device for c in conflicts} | {c.b_device for c in conflicts})
    records = _records(session, conflicts)
    views = []
    for c in conflicts:
        fdef = registry().field_def(c.entity, c.field)
        views.append(ConflictView(
            c, records.get(c.entity_id, c.entity_id), fdef.label.get("vi", c.field) if fdef
            else c.field, fdef.label.get("en", c.field) if fdef else c.field,
            _value_label(fdef, c.a_value), _value_label(fdef, c.b_value),
            writers.get(c.a_device, c.a_device), writers.get(c.b_device, c.b_device),
            fdef, _options(fdef)))
    return Page(views, raw.page, raw.per_page, raw.total)


def conflict_in_scope(session: Session, scope: Scope, conflict_id: int) -> Conflict | None:
    return session.scalar(select(Conflict).where(Conflict.id == conflict_id,
                                                 scope.where(Conflict)))


def open_count(session: Session, scope: Scope) -> int:
    """Open conflicts in the scope (the menu's cue)."""
    return session.scalar(select(func.count()).select_from(Conflict).where(
        scope.where(Conflict), Conflict.status == OPEN)) or 0
