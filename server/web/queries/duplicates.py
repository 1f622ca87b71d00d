"""The duplicates queue as the dashboard pages it: one page of pairs with both
records' names, how many pairs a list holds, and one pair looked up inside the
scope. Comparing, merging and undoing are the domain's
(:mod:`server.sync.duplicates.review`).

The list is most likely first, then newest: ``score DESC, id DESC``, which is the
``ix_duplicate_candidate_*queue*`` indexes read backwards (an order mixing
directions would need a sort of the whole queue, or a descending index that
SQLite cannot reflect), so a page — even the last of 60,000 pairs — is an index
walk, not a sort.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext
from markupsafe import Markup, escape
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from a0core.schemas import FieldDef, registry
from server import formats
from server.models.duplicates import KINDS, STATUSES, DuplicateCandidate
from server.models.register import Household, Member
from server.security.scope import Scope
from server.sync.duplicates import review
from server.sync.duplicates.explain import Reason
from server.web.dashboard.i18n import vietnamese
from server.web.queries.paging import Page, paginate
from server.web.queries.sync_status import unit_names


def clean_filters(status: str | None, kind: str | None) -> tuple[str, str | None]:
    """``status`` one of the queue's states (open by default), ``kind`` one of the kinds or none."""
    return (status if status in STATUSES else "open"), (kind if kind in KINDS else None)


def _filtered(stmt: Select, scope: Scope, status: str, kind: str | None,
              commune: str | None) -> Select:
    t = DuplicateCandidate
    stmt = stmt.where(scope.where(t), t.status == status)
    if kind:
        stmt = stmt.where(t.kind == kind)
    if commune:
        stmt = stmt.where(t.commune_code == commune)
    return stmt


@dataclass(frozen=True)
class PairRow:
    """A line of the list: the pair, what its two records are called and where they live."""
    pair: DuplicateCandidate
    a_label: Markup | str
    b_label: Markup | str
    area: str = ""
    b_area: str = ""


def pair_page(session: Session, scope: Scope, status: str, kind: str | None,
              commune: str | None, page: int, per_page: int) -> Page[PairRow]:
    """One page of the queue in the scope, most likely first (person-level data)."""
    review.check_visible(scope)
    t = DuplicateCandidate
    order = (t.score.desc(), t.id.desc())
    # the page's ids from the index alone, then their rows: skipping to a deep page
    # reads index entries, not the rows before it (PostgreSQL fetched each one)
    ids = paginate(session, _filtered(select(t.id), scope, status, kind, commune)
                   .order_by(*order), page, per_page, scalars=True)
    pairs = list(session.scalars(select(t).where(t.id.in_(ids.items)).order_by(*order))) \
        if ids.items else []
    labels = pair_labels(session, pairs)
    areas = unit_names(session, {c for p in pairs for c in (p.area_code, p.b_area_code) if c})
    rows = [PairRow(p, labels.get(p.a_id, p.a_id), labels.get(p.b_id, p.b_id),
                    areas.get(p.area_code, p.area_code),
                    areas.get(p.b_area_code or "", p.b_area_code or "")) for p in pairs]
    return Page(rows, ids.page, ids.per_page, ids.total)


def pair_labels(session: Session, pairs: list[DuplicateCandidate]) -> dict[str, Markup]:
    """Record id → a name to recognise it by, in the page's language, the names marked
    Vietnamese (the sync module's :func:`~server.sync.duplicates.review.labels` writes
    Vietnamese for the API)."""
    ids = {kind: sorted({i for p in pairs if p.kind == kind for i in (p.a_id, p.b_id)})
           for kind in KINDS}
    out: dict[str, Markup] = {}
    if ids["member"]:
        out.update((i, Markup("%s (%s)") % (vietnamese(name), formats.day(born)))
                   for i, name, born in session.execute(
                       select(Member.id, Member.full_name, Member.birth_date)
                       .where(Member.id.in_(ids["member"]))))
    if ids["household"]:
        heads = review.head_names(session, ids["household"])
        for i, number, address in session.execute(
                select(Household.id, Household.number, Household.address)
                .where(Household.id.in_(ids["household"]))):
            parts = [escape(gettext("Hộ số %(n)s", n=number))]
            if heads.get(i):  # the message without arguments: its %(name)s kept
                parts.append(escape(gettext("chủ hộ %(name)s")) % {"name": vietnamese(heads[i])})
            if address:
                parts.append(vietnamese(address))
            out[i] = Markup(", ").join(parts)
    return out


def candidate_in_scope(session: Session, scope: Scope,
                       candidate_id: int) -> DuplicateCandidate | None:
    """The pair if the scope reaches it; ``None`` otherwise (out of scope looks absent)."""
    t = DuplicateCandidate
    return session.scalar(select(t).where(t.id == candidate_id, scope.where(t)))


# the columns compared side by side, in the order a reviewer reads them
COMPARED = {"member": ("full_name", "sex", "birth_date", "ethnicity", "relation",
                       "residence_status", "id_number", "bhyt_number", "area_code"),
            "household": ("number", "address", "area_code")}


def _shown(fdef: FieldDef | None, value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {"vi": "—", "en": "—"}
    if fdef is not None and fdef.type in ("date", "partial_date") and isinstance(value, str):
        return {"vi": formats.day(value, "vi"), "en": formats.day(value, "en")}
    if fdef is not None and fdef.codelist and isinstance(value, str):
        code = registry().codelist(fdef.codelist).get(value)
        if code is not None:
            return {"vi": code.vi, "en": code.en}
    return {"vi": str(value), "en": str(value)}


@dataclass(frozen=True)
class ComparedRow:
    name: str
    label: dict[str, str]
    a: dict[str, str]
    b: dict[str, str]
    differ: bool


def area_names(session: Session, *cards: dict[str, Any]) -> dict[str, str]:
    """The names of the cards' areas (village or collaborator area) by code."""
    return unit_names(session, {c["area_code"] for c in cards if c.get("area_code")})


def compare(kind: str, a: dict[str, Any], b: dict[str, Any],
            areas: dict[str, str] | None = None) -> list[ComparedRow]:
    """The two cards of :func:`~server.sync.duplicates.review.candidate_view` field by
    field, with labels and code-list values from ``schemas/``, areas by name."""
    rows = []
    for name in COMPARED[kind]:
        fdef = registry().field_def(kind, name)
        label = dict(fdef.label) if fdef is not None else {}
        if name == "area_code":
            label = {"vi": "Địa bàn", "en": "Area"}
        label = {"vi": label.get("vi", name), "en": label.get("en", name)}
        shown_a, shown_b = _shown(fdef, a.get(name)), _shown(fdef, b.get(name))
        if name == "area_code" and areas:
            shown_a, shown_b = (_shown(None, areas.get(r.get(name) or "", r.get(name)))
                                for r in (a, b))
        rows.append(ComparedRow(name, label, shown_a, shown_b, a.get(name) != b.get(name)))
    return rows


def dated(why: list[Reason], a: dict[str, Any], b: dict[str, Any]) -> list[Reason]:
    """The reasons with the dates of birth written as the page's language writes them
    (the explanation writes them the Vietnamese way)."""
    return [replace(r, a=formats.day(a.get("birth_date") or ""),
                    b=formats.day(b.get("birth_date") or "")) if r.key == "birth" else r
            for r in why]
