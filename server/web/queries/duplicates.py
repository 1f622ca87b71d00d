"""The duplicates queue as the dashboard pages it: how many pairs a list holds, and
one pair looked up inside the scope. Listing and comparing themselves are the
domain's (:mod:`server.sync.duplicates.review`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core.schemas import FieldDef, registry
from server.models.duplicates import KINDS, STATUSES, DuplicateCandidate
from server.security.scope import Scope


def clean_filters(status: str | None, kind: str | None) -> tuple[str, str | None]:
    """``status`` one of the queue's states (open by default), ``kind`` one of the kinds or none."""
    return (status if status in STATUSES else "open"), (kind if kind in KINDS else None)


def count_pairs(session: Session, scope: Scope, status: str, kind: str | None = None,
                commune: str | None = None) -> int:
    """Pairs of one status in the scope (the list's total, for the pager)."""
    t = DuplicateCandidate
    stmt = select(func.count()).select_from(t).where(scope.where(t), t.status == status)
    if kind:
        stmt = stmt.where(t.kind == kind)
    if commune:
        stmt = stmt.where(t.commune_code == commune)
    return session.scalar(stmt) or 0


def candidate_in_scope(session: Session, scope: Scope,
                       candidate_id: int) -> DuplicateCandidate | None:
    """The pair if the scope reaches it; ``None`` otherwise (out of scope looks absent)."""
    t = DuplicateCandidate
    return session.scalar(select(t).where(t.id == candidate_id, scope.where(t)))


# the columns compared side by side, in the order a reviewer reads them
COMPARED = {"member": ("full_name", "sex", "birth_date", "ethnicity", "relation",
                       "residence_status", "bhyt_number", "area_code"),
            "household": ("number", "address", "area_code")}


def _field_def(entity: str, name: str) -> FieldDef | None:
    for form in registry().latest_forms():
        if form.kind == "entity" and form.entity == entity:
            found = form.field(name)
            if found is not None:
                return found
    return None


def _shown(fdef: FieldDef | None, value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {"vi": "—", "en": "—"}
    if fdef is not None and fdef.codelist and isinstance(value, str):
        code = registry().codelist(fdef.codelist).get(value)
        if code is not None:
            return {"vi": f"{code.vi} ({value})", "en": f"{code.en} ({value})"}
    return {"vi": str(value), "en": str(value)}


@dataclass(frozen=True)
class ComparedRow:
    name: str
    label: dict[str, str]
    a: dict[str, str]
    b: dict[str, str]
    differ: bool


def compare(kind: str, a: dict[str, Any], b: dict[str, Any]) -> list[ComparedRow]:
    """The two cards of :func:`~server.sync.duplicates.review.candidate_view` field by
    field, with labels and code-list values from ``schemas/``."""
    rows = []
    for name in COMPARED[kind]:
        fdef = _field_def(kind, name)
        label = dict(fdef.label) if fdef is not None else {}
        if name == "area_code":
            label = {"vi": "Địa bàn", "en": "Area"}
        label = {"vi": label.get("vi", name), "en": label.get("en", name)}
        rows.append(ComparedRow(name, label, _shown(fdef, a.get(name)), _shown(fdef, b.get(name)),
                                a.get(name) != b.get(name)))
    return rows
