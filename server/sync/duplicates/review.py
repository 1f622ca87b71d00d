"""The reviewer's side of duplicates: list, compare, merge, reject, undo. No Flask.

This is the domain API the web pages call (a handler parses, calls one function,
renders). Every function takes the actor's :class:`~server.security.scope.Scope`,
the one place that decides who sees what; pairs are person-level data, so a
scope without ``person_level`` sees none of them.

A **merge** keeps the survivor's id and data. The other record (the loser) gets
``merged_into`` and an active :class:`~server.models.sync.Alias`, so operations
that still use its id land on the survivor (:meth:`Workset.resolve`), and
devices learn the redirect on pull (the alias and the loser's row carry new
change numbers). Merging households also moves the loser's live members to the
survivor — as a server write of ``household_id`` with a fresh stamp, so it wins
on every device. An **undo** reverses exactly what the merge did: the loser
comes back with its own data (it was never changed), the alias is deactivated
(also pulled by devices), and the members the merge moved go back, unless they
have been moved elsewhere since. What devices wrote to the old id between merge
and undo stays on the survivor: it cannot be told apart.

Merge, reject and undo are each one transaction: they take the province's change
counter lock first (so two reviewers cannot merge the same pair at once), check
everything, write, audit, re-run detection for the records concerned, and
commit; a refusal raises :class:`~a0core.errors.A0Error` and rolls back, so it
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from a0core.hlc import HybridClock
from server.models.base import utcnow
from server.models.duplicates import MERGED, OPEN, REJECTED, UNDONE, DuplicateCandidate
from server.models.register import Household, Member
from server.models.sync import Alias
from server.security import audit
from server.security.scope import Scope
from server.sync.duplicates.detect import detect
from server.sync.duplicates.explain import vn_date
from server.sync.duplicates.scoring import DEFAULTS, Thresholds
from server.sync.locks import again_if_crossed, hold
from server.sync.workset import Sequencer

SERVER_DEVICE = "server"
MODELS: dict[str, Any] = {"household": Household, "member": Member}
T = TypeVar("T")


# ----------------------------------------------------------------------- reading

def check_visible(scope: Scope) -> None:
    """Duplicate pairs are person-level data: refuse a scope without it."""
    if not scope.person_level:
        raise A0Error("forbidden")


def _summary(c: DuplicateCandidate) -> dict[str, Any]:
    return {"id": c.id, "kind": c.kind, "a_id": c.a_id, "b_id": c.b_id, "score": c.score,
            "reasons": c.reasons, "status": c.status, "province_code": c.province_code,
            "commune_code": c.commune_code, "area_code": c.area_code,
            "b_area_code": c.b_area_code, "decided_by": c.decided_by,
            "decided_at": c.decided_at.isoformat() if c.decided_at else None,
            "merge": c.merge}


def count_candidates(session: Session, scope: Scope) -> dict[str, int]:
    """Open pairs per kind in the scope: counts only, for dashboards of any role."""
    t = DuplicateCandidate
    rows = session.execute(select(t.kind, func.count()).where(scope.where(t), t.status == OPEN)
                           .group_by(t.kind)).all()
    return {"household": 0, "member": 0, **{k: n for k, n in rows}}


def list_candidates(session: Session, scope: Scope, *, status: str = OPEN,
                    kind: str | None = None, commune_code: str | None = None,
                    limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Pairs in the scope, most likely first, with both records' names for the list page."""
    check_visible(scope)
    t = DuplicateCandidate
    q = select(t).where(scope.where(t), t.status == status)
    if kind:
        q = q.where(t.kind == kind)
    if commune_code:
        q = q.where(t.commune_code == commune_code)
    q = q.order_by(t.score.desc(), t.id).limit(max(1, min(limit, 500))).offset(max(0, offset))
    pairs = list(session.scalars(q))
    names = labels(session, pairs)
    return [{**_summary(c), "a_label": names.get(c.a_id, c.a_id),
             "b_label": names.get(c.b_id, c.b_id)} for c in pairs]


def labels(session: Session, pairs: list[DuplicateCandidate]) -> dict[str, str]:
    """Record id → a name to recognise it by, two queries for a whole list."""
    ids = {kind: sorted({i for p in pairs if p.kind == kind for i in (p.a_id, p.b_id)})
           for kind in MODELS}
    out: dict[str, str] = {}
    if ids["member"]:
        out.update((i, f"{name} ({vn_date(born)})") for i, name, born in session.execute(
            select(Member.id, Member.full_name, Member.birth_date)
            .where(Member.id.in_(ids["member"]))))
    if ids["household"]:
        heads = head_names(session, ids["household"])
        out.update((i, ", ".join(part for part in (
            f"Hộ số {number}", f"chủ hộ {heads[i]}" if heads.get(i) else "", address or "")
            if part)) for i, number, address in session.execute(
            select(Household.id, Household.number, Household.address)
            .where(Household.id.in_(ids["household"]))))
    return out


def head_names(session: Session, household_ids: list[str]) -> dict[str, str]:
    """Household id → its head's name: the member the household names as its head, else
    the live member whose relation is "head" (one query)."""
    out: dict[str, str] = {}
    rows = session.execute(
        select(Member.household_id, Member.full_name, Member.id == Household.head_member_id)
        .join(Household, Household.id == Member.household_id)
        .where(Member.household_id.in_(household_ids), ~Member.deleted,
               Member.merged_into.is_(None),
               (Member.id == Household.head_member_id) | (Member.relation == "head"))
        .order_by(Member.birth_date)).all()
    for household_id, name, _named in sorted(rows, key=lambda r: not r[2]):  # named first
        out.setdefault(household_id, name)
    return out


def _member_card(session: Session, m: Member) -> dict[str, Any]:
    h = session.get(Household, m.household_id)
    fellows = session.scalars(select(Member).where(
        Member.household_id == m.household_id, Member.id != m.id, ~Member.deleted,
        Member.merged_into.is_(None)).order_by(Member.birth_date)).all()
    return {"id": m.id, "kind": "member", "data": m.data, "full_name": m.full_name,
            "sex": m.sex, "birth_date": m.birth_date, "bhyt_number": m.bhyt_number,
            "id_number": m.data.get("id_number"),
            "ethnicity": m.ethnicity, "relation": m.relation,
            "residence_status": m.residence_status, "area_code": m.area_code,
            "deleted": m.deleted, "merged_into": m.merged_into, "seq": m.seq,
            "household": {"id": h.id, "number": h.number, "address": h.address} if h else None,
            "fellows": [{"id": f.id, "full_name": f.full_name, "birth_date": f.birth_date,
                         "relation": f.relation} for f in fellows]}


def _household_card(session: Session, h: Household) -> dict[str, Any]:
    members = session.scalars(select(Member).where(
        Member.household_id == h.id, ~Member.deleted, Member.merged_into.is_(None))
        .order_by(Member.birth_date)).all()
    return {"id": h.id, "kind": "household", "data": h.data, "number": h.number,
            "head": head_names(session, [h.id]).get(h.id),
            "address": h.address, "area_code": h.area_code, "deleted": h.deleted,
            "merged_into": h.merged_into, "seq": h.seq,
            "members": [{"id": m.id, "full_name": m.full_name, "sex": m.sex,
                         "birth_date": m.birth_date, "relation": m.relation,
                         "bhyt_number": m.bhyt_number} for m in members]}


def candidate_view(session: Session, scope: Scope, candidate_id: int,
                   actor: str | None = None) -> dict[str, Any]:
    """Both records side by side, with the ``version`` a merge must quote.

    Reading two persons' records is a person-level read: it is audited when an
    ``actor`` is given (the caller commits).
    """
    check_visible(scope)
    c, a, b = _load(session, candidate_id)
    _in_scope(scope, a, b)
    card = _member_card if c.kind == "member" else _household_card
    if actor:
        audit.record(session, actor, "duplicate.view", target=f"duplicate:{c.id}",
                     province_code=c.province_code, commune_code=c.commune_code,
                     row_count=2, details={"records": [c.a_id, c.b_id]})
    return {"candidate": _summary(c), "a": card(session, a), "b": card(session, b),
            "version": f"{a.seq}.{b.seq}"}


# ---------------------------------------------------------------------- deciding

def _load(session: Session, candidate_id: int) -> tuple[DuplicateCandidate, Any, Any]:
    c = session.get(DuplicateCandidate, candidate_id, populate_existing=True)
    if c is None:
        raise A0Error("not_found")
    model = MODELS[c.kind]
    a = session.get(model, c.a_id, populate_existing=True)
    b = session.get(model, c.b_id, populate_existing=True)
    if a is None or b is None:
        raise A0Error("not_found")
    return c, a, b


def _in_scope(scope: Scope, *rows: Any) -> None:
    for row in rows:
        if not scope.covers(row.province_code, row.commune_code, row.area_code):
            raise A0Error("duplicate_out_of_scope")


def _transaction(session: Session, candidate_id: int, scope: Scope,
                 work: Callable[[DuplicateCandidate, Any, Any, Sequencer], T]) -> T:
    """Lock the province's change counter, re-read, run ``work``, commit; roll back on
    refusal; once more if it crossed a batch writing the same person (a deadlock)."""
    return again_if_crossed(session, lambda: _once(session, candidate_id, scope, work))


def _once(session: Session, candidate_id: int, scope: Scope,
          work: Callable[[DuplicateCandidate, Any, Any, Sequencer], T]) -> T:
    try:
        check_visible(scope)
        c = session.get(DuplicateCandidate, candidate_id)
        if c is None:
            raise A0Error("not_found")
        sequencer = Sequencer(session, c.province_code)
        sequencer.reserve(64)  # the first write: serialises with batches and other reviewers
        hold(session, f"duplicates:{c.commune_code}")  # and with detection after batches
        c, a, b = _load(session, candidate_id)
        _in_scope(scope, a, b)
        out = work(c, a, b, sequencer)
        session.commit()
        return out
    except BaseException:
        session.rollback()
        raise


def _refresh_rollups(session: Session, kind: str, ids: list[str], moved: list[str]) -> None:
    """Each person is counted once: a merge or its undo changes the roll-ups at once."""
    from server.rollups.jobs import refresh

    if kind == "member":
        refresh(session, members=ids)
    else:
        refresh(session, households=ids, members=moved)


def _move_member(m: Member, household: Household, leaving: str, stamp: list[Any],
                 seq: int) -> None:
    """A server write of ``household_id``: the member follows its household. The
    record's household (the one at registration) changes only if it is the one left:
    a person who joined it later by a dated change keeps their earlier household."""
    if m.data.get("household_id") == leaving:
        m.data = {**m.data, "household_id": household.id}
        m.clocks = {**m.clocks, "household_id": stamp}
    m.household_id = household.id
    m.province_code, m.commune_code, m.area_code = (household.province_code,
                                                    household.commune_code, household.area_code)
    m.seq = seq


def merge_candidate(session: Session, clock: HybridClock, candidate_id: int, survivor_id: str,
                    *, scope: Scope, actor: str, expected_version: str | None = None,
                    thresholds: Thresholds = DEFAULTS) -> DuplicateCandidate:
    """Merge the pair into ``survivor_id`` (one of its two ids); commits."""
    def work(c: DuplicateCandidate, a: Any, b: Any, next_seq: Sequencer) -> DuplicateCandidate:
        if c.status != OPEN:
            raise A0Error("duplicate_not_open", status=c.status)
        if survivor_id not in (c.a_id, c.b_id):
            raise A0Error("duplicate_survivor_invalid")
        for row in (a, b):
            if row.deleted:
                raise A0Error("duplicate_record_deleted", record=row.id)
            if row.merged_into:
                raise A0Error("duplicate_already_merged", record=row.id)
        if expected_version is not None and expected_version != f"{a.seq}.{b.seq}":
            raise A0Error("duplicate_stale")
        survivor, loser = (a, b) if survivor_id == a.id else (b, a)
        loser.merged_into = survivor.id
        loser.seq = next_seq()
        alias = session.get(Alias, loser.id)
        if alias is None:
            alias = Alias(old_id=loser.id)
            session.add(alias)
        alias.survivor_id, alias.entity, alias.active = survivor.id, c.kind, True
        alias.province_code, alias.commune_code, alias.area_code = (
            loser.province_code, loser.commune_code, loser.area_code)
        alias.merged_by, alias.merged_at, alias.seq = actor, utcnow(), next_seq()
        moved: list[str] = []
        if c.kind == "household":
            stamp = [clock.now(), SERVER_DEVICE]
            for m in session.scalars(select(Member).where(
                    Member.household_id == loser.id, ~Member.deleted).order_by(Member.id)):
                _move_member(m, survivor, loser.id, stamp, next_seq())
                moved.append(m.id)
        c.status, c.decided_by, c.decided_at = MERGED, actor, utcnow()
        c.merge = {"survivor": survivor.id, "loser": loser.id, "moved": moved}
        audit.record(session, actor, "duplicate.merge", target=f"duplicate:{c.id}",
                     province_code=c.province_code, commune_code=c.commune_code,
                     details={"kind": c.kind, "survivor": survivor.id, "loser": loser.id,
                              "moved": len(moved)})
        session.flush()
        _redetect(session, c.kind, [survivor.id, loser.id], moved, thresholds)
        _refresh_rollups(session, c.kind, [survivor.id, loser.id], moved)
        return c

    return _transaction(session, candidate_id, scope, work)


def undo_merge(session: Session, clock: HybridClock, candidate_id: int, *, scope: Scope,
               actor: str, thresholds: Thresholds = DEFAULTS) -> DuplicateCandidate:
    """Reverse a merge: the loser and its moved members come back; commits."""
    def work(c: DuplicateCandidate, a: Any, b: Any, next_seq: Sequencer) -> DuplicateCandidate:
        if c.status != MERGED or not c.merge:
            raise A0Error("duplicate_not_merged")
        survivor_id, loser_id = c.merge["survivor"], c.merge["loser"]
        survivor, loser = (a, b) if a.id == survivor_id else (b, a)
        loser.merged_into = None
        loser.seq = next_seq()
        alias = session.get(Alias, loser_id)
        if alias is not None:
            alias.active, alias.seq = False, next_seq()
        back: list[str] = []
        if c.kind == "household":
            stamp = [clock.now(), SERVER_DEVICE]
            for member_id in c.merge.get("moved", []):
                m = session.get(Member, member_id)
                if m is not None and m.household_id == survivor_id:
                    _move_member(m, loser, survivor_id, stamp, next_seq())
                    back.append(member_id)
        c.status, c.decided_by, c.decided_at = UNDONE, actor, utcnow()
        c.merge = {**c.merge, "undone_by": actor, "moved_back": back}
        audit.record(session, actor, "duplicate.undo", target=f"duplicate:{c.id}",
                     province_code=c.province_code, commune_code=c.commune_code,
                     details={"kind": c.kind, "survivor": survivor_id, "loser": loser_id,
                              "moved_back": len(back)})
        session.flush()
        _redetect(session, c.kind, [survivor.id, loser.id], back, thresholds)
        _refresh_rollups(session, c.kind, [survivor.id, loser.id], back)
        return c

    return _transaction(session, candidate_id, scope, work)


def reject_candidate(session: Session, candidate_id: int, *, scope: Scope,
                     actor: str) -> DuplicateCandidate:
    """Not the same person or household: the pair leaves the queue for good; commits."""
    def work(c: DuplicateCandidate, a: Any, b: Any, _seq: Sequencer) -> DuplicateCandidate:
        if c.status != OPEN:
            raise A0Error("duplicate_not_open", status=c.status)
        c.status, c.decided_by, c.decided_at = REJECTED, actor, utcnow()
        audit.record(session, actor, "duplicate.reject", target=f"duplicate:{c.id}",
                     province_code=c.province_code, commune_code=c.commune_code,
                     details={"kind": c.kind, "a": c.a_id, "b": c.b_id})
        return c

    return _transaction(session, candidate_id, scope, work)


def _redetect(session: Session, kind: str, ids: list[str], moved: list[str],
              thresholds: Thresholds) -> None:
    if kind == "member":
        detect(session, ids, [], thresholds)
    else:
        detect(session, moved, ids, thresholds)
