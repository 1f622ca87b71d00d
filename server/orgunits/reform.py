"""Apply a migration plan to the register, and undo it (issue 13; docs/orgunits.md).

:func:`apply_plan` moves every village and area of the plan under its new commune
in the new tree (ids and codes kept), carries every row that lives in them
(:mod:`server.orgunits.relocate`), moves the web accounts bound to old units,
makes the new tree current and writes one audit row — all in the caller's
transaction, so the register is either wholly in the old tree or wholly in the
new one. :func:`undo` puts everything back. The roll-ups move in the same
transaction: an area's cells do not change when it moves, so the stored area
cells are added up again under the new tree (:mod:`server.rollups.regroup`);
:func:`recompute_rollups` afterwards computes only the months of the window the
old tree had no cells for.

Web accounts, by role:

* commune staff of an old commune → staff of the new commune that received most
  of its persons (then households; a commune with no register: the table's first
  successor);
* district staff → province staff of the province most of the district went to,
  limited to the district's new communes as a group
  (:class:`~server.models.orgunits.OrgGroup`, one per former district);
* province staff → staff of the new province most of the old one's communes
  went to.

An account that cannot be placed (its old commune has no successor and no
register) is deactivated and listed in the summary. ``former_scope`` keeps what
the account reached before, so a district system's cursor goes on
(:mod:`server.district.feeds`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.base import utcnow
from server.models.orgunits import (
    GROUP_FORMER_DISTRICT,
    KIND_REFORM,
    LEVEL_AREA,
    LEVEL_COMMUNE,
    LEVEL_DISTRICT,
    LEVEL_PROVINCE,
    LEVEL_VILLAGE,
    LOCAL_LEVELS,
    MIGRATION_APPLIED,
    MIGRATION_UNDONE,
    OrgGroup,
    OrgLineage,
    OrgMigration,
    OrgTree,
    OrgUnit,
    OrgUnitMove,
)
from server.models.people import ROLE_COMMUNE, ROLE_DISTRICT, ROLE_PROVINCE, User
from server.models.rollups import RollupCell
from server.orgunits.groups import group_of
from server.orgunits.plan import Plan, describe_missing
from server.orgunits.queries import current_tree
from server.orgunits.relocate import (
    carry,
    large_cache,
    place_units,
    record_move,
    restore_units,
)
from server.rollups.regroup import regroup
from server.rollups.store import DEFAULT_TREE, NATIONAL_LEVEL, tree_name
from server.security import audit
from server.security.scope import scope_label
from server.security.web_sessions import end_sessions_of

CACHE_MB = 3072  # SQLite page cache while a reform rewrites the register: the member
# table of a million persons (1.6 GB) and its indexes stay in memory (relocate.large_cache)


# ------------------------------------------------------------------- apply


def apply_plan(session: Session, plan: Plan, actor: str, now: dt.datetime | None = None,
               cache_mb: int = CACHE_MB) -> OrgMigration:
    """Carry out ``plan`` (built in this transaction); refuses while a row has no choice."""
    now = now or utcnow()
    missing = plan.missing()
    if missing:
        raise A0Error("plan_incomplete", count=len(missing), rows=describe_missing(missing))
    to_tree = plan.to_tree
    previous = current_tree(session)
    if not plan.rows and previous == to_tree:
        raise A0Error("migration_nothing", record=to_tree)
    communes = _units_by_code(session, to_tree, {r.new_commune for r in plan.rows})
    taken = set(_units_by_code(session, to_tree,
                               {c for r in plan.rows for c in (r.village, r.area)}))
    if taken:
        raise A0Error("plan_code_taken", record=", ".join(sorted(taken)[:10]), tree=to_tree)

    large_cache(session, cache_mb)
    migration = OrgMigration(kind=KIND_REFORM, from_tree=previous, to_tree=to_tree,
                             previous_current=previous, status=MIGRATION_APPLIED,
                             applied_by=actor[:80], applied_at=now,
                             rows=[r.to_json() for r in plan.rows], summary={}, users=[])
    session.add(migration)
    session.flush()
    moves = _record_moves(session, migration.id, plan, communes)
    place_units(session, moves)
    counts = carry(session, migration.id, every=True, now=now)
    groups = _make_groups(session, migration.id, plan)
    migration.users = _move_staff(session, plan, groups, now)
    months = sorted(set(session.scalars(select(RollupCell.month).distinct().where(
        RollupCell.tree != to_tree))))
    rolled = regroup(session, previous or DEFAULT_TREE, to_tree)
    session.execute(delete(RollupCell).where(RollupCell.tree != to_tree))
    _make_current(session, to_tree)
    migration.summary = {
        "villages": sum(m.level == LEVEL_VILLAGE for m in moves),
        "areas": sum(m.level == LEVEL_AREA for m in moves), "rows": counts,
        "totals": plan.totals(), "groups": len(groups), "rollup_months": months,
        "rollup_cells": rolled["cells"],
        "users": [{k: u[k] for k in ("username", "before", "after")}
                  for u in migration.users]}
    audit.record(session, actor, "orgunits.migrate", target=f"migration:{migration.id}",
                 at=now, row_count=counts.get("member", 0),
                 details={"to_tree": to_tree, "from_tree": previous,
                          "villages": migration.summary["villages"],
                          "areas": migration.summary["areas"], "rows": counts,
                          "users": migration.summary["users"]})
    session.flush()
    return migration


def _units_by_code(session: Session, tree: str, codes: set[str | None]) -> dict[str, OrgUnit]:
    wanted = sorted(c for c in codes if c)
    found: dict[str, OrgUnit] = {}
    for i in range(0, len(wanted), 500):
        found.update((u.code, u) for u in session.scalars(select(OrgUnit).where(
            OrgUnit.tree == tree, OrgUnit.code.in_(wanted[i:i + 500]))))
    return found


def _record_moves(session: Session, migration_id: int, plan: Plan,
                  communes: dict[str, OrgUnit]) -> list[OrgUnitMove]:
    locals_ = _units_by_code_any(session, plan.to_tree,
                                 {c for r in plan.rows for c in (r.village, r.area) if c})
    moves: list[OrgUnitMove] = []
    seen: set[str] = set()
    for row in plan.rows:
        commune = communes[row.new_commune]  # type: ignore[index]
        place = {"old_district": row.old_district, "old_province": row.old_province,
                 "old_commune": row.old_commune, "new_province": commune.province_code,
                 "new_commune": commune.code}
        village = locals_.get(row.village) if row.village else None
        if village is not None and village.code not in seen:
            seen.add(village.code)
            moves.append(record_move(session, migration_id, village, code=village.code,
                                     level=LEVEL_VILLAGE, village_code=None,
                                     new_parent=commune, **place))
        if row.area:
            area = locals_.get(row.area)
            moves.append(record_move(session, migration_id, area, code=row.area,
                                     level=LEVEL_AREA, village_code=row.village,
                                     new_parent=village or (commune if area else None),
                                     **place))
    session.flush()
    return moves


def _units_by_code_any(session: Session, to_tree: str, codes: set[str]) -> dict[str, OrgUnit]:
    """Local units outside ``to_tree`` by code (a code is one unit there: the plan checks)."""
    wanted = sorted(codes)
    found: dict[str, OrgUnit] = {}
    for i in range(0, len(wanted), 500):
        found.update((u.code, u) for u in session.scalars(select(OrgUnit).where(
            OrgUnit.tree != to_tree, OrgUnit.level.in_(LOCAL_LEVELS),
            OrgUnit.code.in_(wanted[i:i + 500]))))
    return found


def _make_current(session: Session, tree: str | None) -> None:
    session.execute(update(OrgTree).values(current=False))
    if tree is not None:
        session.execute(update(OrgTree).where(OrgTree.name == tree).values(current=True))


# ------------------------------------------------------------------- staff


def _old_trees(session: Session, plan: Plan) -> set[str]:
    trees = {r.old_tree for r in plan.rows if r.old_tree}
    trees |= set(session.scalars(select(OrgUnit.tree).join(User, User.org_unit_id == OrgUnit.id)
                                 .where(OrgUnit.tree != plan.to_tree).distinct()))
    return trees


def _links(session: Session, old_trees: set[str], to_tree: str
           ) -> dict[tuple[str, str], list[str]]:
    """(old tree, old commune) → new communes of ``to_tree`` it went into (table order),
    only those the new list holds."""
    existing = set(session.scalars(select(OrgUnit.code).where(
        OrgUnit.tree == to_tree, OrgUnit.level == LEVEL_COMMUNE, OrgUnit.active)))
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for tree, old, new in session.execute(
            select(OrgLineage.old_tree, OrgLineage.old_code, OrgLineage.new_code)
            .where(OrgLineage.old_tree.in_(sorted(old_trees)), OrgLineage.new_tree == to_tree)
            .order_by(OrgLineage.old_code, OrgLineage.rank)):
        if new in existing:
            out[(tree, old)].append(new)
    return out


def _make_groups(session: Session, migration_id: int,
                 plan: Plan) -> dict[tuple[str, str], OrgGroup]:
    """One group per former district: the new communes its communes went into (by the
    table, and by the plan's choices), within the province most of them are in."""
    to_tree = plan.to_tree
    old_trees = _old_trees(session, plan)
    links = _links(session, old_trees, to_tree)
    chosen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in plan.rows:
        if row.old_tree and row.old_district and row.new_commune:
            chosen[(row.old_tree, row.old_district)].add(row.new_commune)
    province_of = dict(session.execute(select(OrgUnit.code, OrgUnit.province_code).where(
        OrgUnit.tree == to_tree, OrgUnit.level == LEVEL_COMMUNE)).all())
    existing = {g.code: g for g in session.scalars(select(OrgGroup).where(
        OrgGroup.tree == to_tree, OrgGroup.kind == GROUP_FORMER_DISTRICT))}
    groups: dict[tuple[str, str], OrgGroup] = {}
    districts = session.scalars(select(OrgUnit).where(OrgUnit.tree.in_(sorted(old_trees)),
                                                      OrgUnit.level == LEVEL_DISTRICT))
    communes_of: dict[int, list[str]] = defaultdict(list)
    for parent, code in session.execute(select(OrgUnit.parent_id, OrgUnit.code).where(
            OrgUnit.tree.in_(sorted(old_trees)), OrgUnit.level == LEVEL_COMMUNE)):
        communes_of[parent].append(code)
    for district in districts:
        new = set(chosen.get((district.tree, district.code), set()))
        for old in communes_of.get(district.id, []):
            new.update(links.get((district.tree, old), []))
        if district.code in existing:
            continue
        group = group_of(to_tree, district, {c: province_of[c] for c in new
                                             if c in province_of}, migration_id)
        if group is None:
            continue
        session.add(group)
        groups[(district.tree, district.code)] = group
    session.flush()
    return groups


def _move_staff(session: Session, plan: Plan, groups: dict[tuple[str, str], OrgGroup],
                now: dt.datetime) -> list[dict[str, Any]]:
    """Rebind every account whose unit is outside the new tree; returns what each was."""
    to_tree = plan.to_tree
    links = _links(session, _old_trees(session, plan), to_tree)
    by_persons: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row in plan.rows:
        if row.old_tree and row.new_commune:
            by_persons[(row.old_tree, row.old_commune)][row.new_commune] += \
                row.persons * 1_000_000 + row.households
    targets = {u.code: u for u in session.scalars(select(OrgUnit).where(
        OrgUnit.tree == to_tree, OrgUnit.level.in_((LEVEL_PROVINCE, LEVEL_COMMUNE))))}

    def commune_for(tree: str, code: str) -> str | None:
        weights = by_persons.get((tree, code))
        if weights:
            return min(weights.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        found = links.get((tree, code))
        return found[0] if found else None

    def province_for(unit: OrgUnit) -> str | None:
        olds = set(session.scalars(select(OrgUnit.code).where(
            OrgUnit.tree == unit.tree, OrgUnit.level == LEVEL_COMMUNE,
            OrgUnit.province_code == unit.code)))
        votes: Counter[str] = Counter(
            targets[n].province_code for (tree, old), news in links.items()
            if tree == unit.tree and old in olds for n in news if n in targets)
        if votes:
            return min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return unit.code if unit.code in targets else None

    changed = []
    accounts = session.scalars(select(User).join(OrgUnit, User.org_unit_id == OrgUnit.id)
                               .where(OrgUnit.tree != to_tree).order_by(User.id))
    for user in accounts:
        unit = user.org_unit
        assert unit is not None
        before = {"id": user.id, "role": user.role, "org_unit_id": user.org_unit_id,
                  "group_id": user.group_id, "former_scope": user.former_scope,
                  "active": user.active}
        group = None
        if user.role == ROLE_COMMUNE and unit.level == LEVEL_COMMUNE:
            target = commune_for(unit.tree, unit.code)
        elif user.role == ROLE_DISTRICT and unit.level == LEVEL_DISTRICT:
            group = groups.get((unit.tree, unit.code))
            target = group.province_code if group is not None else None
        elif user.role == ROLE_PROVINCE and unit.level == LEVEL_PROVINCE:
            target = province_for(unit)
        else:  # an administrator bound to a unit, or an account no scope can use
            target = unit.code if unit.code in targets else None
        new_unit = targets.get(target) if target else None
        user.former_scope = scope_label(unit.level, unit.code)[:64]
        if group is not None:
            user.role, user.group_id = ROLE_PROVINCE, group.id
        user.org_unit_id = new_unit.id if new_unit is not None else None
        if new_unit is None and user.role != "admin":
            user.active = False
            end_sessions_of(session, user.id)
        after = (scope_label(new_unit.level, new_unit.code, group.code if group else None)
                 if new_unit is not None else None)
        changed.append({**before, "username": user.username,
                        "before": scope_label(unit.level, unit.code), "after": after})
    session.flush()
    return changed


# -------------------------------------------------------------------- undo


def undo(session: Session, migration_id: int, actor: str, now: dt.datetime | None = None,
         cache_mb: int = CACHE_MB) -> OrgMigration:
    """Return to the state before migration ``migration_id`` (in the caller's transaction).

    Refused (``migration_undo_blocked``) when it is not the last migration still
    applied, or when villages or areas were added or moved in the new tree since.
    """
    now = now or utcnow()
    migration = session.get(OrgMigration, migration_id) if type(migration_id) is int else None
    if migration is None:
        raise A0Error("migration_unknown", record=str(migration_id)[:20])
    _check_undoable(session, migration)
    if migration.kind == KIND_REFORM:
        large_cache(session, cache_mb)
    moves = list(session.scalars(select(OrgUnitMove).where(
        OrgUnitMove.migration_id == migration.id)))
    group_ids = [g.id for g in session.scalars(select(OrgGroup).where(
        OrgGroup.migration_id == migration.id))]
    for before in migration.users:
        user = session.get(User, before["id"])
        if user is None:
            continue
        group = session.get(OrgGroup, user.group_id) if user.group_id else None
        unit = user.org_unit
        user.former_scope = scope_label(unit.level, unit.code, group.code if group else None) \
            if unit is not None else before["former_scope"]
        user.role, user.org_unit_id = before["role"], before["org_unit_id"]
        user.group_id, user.active = before["group_id"], before["active"]
    session.flush()
    if group_ids:
        session.execute(delete(OrgGroup).where(OrgGroup.id.in_(group_ids)))
    counts = carry(session, migration.id, back=True, every=migration.kind == KIND_REFORM,
                   now=now)
    restore_units(session, moves)
    if migration.kind == KIND_REFORM:
        regroup(session, migration.to_tree, migration.previous_current or DEFAULT_TREE)
        _make_current(session, migration.previous_current)
    migration.status, migration.undone_by, migration.undone_at = MIGRATION_UNDONE, actor[:80], now
    audit.record(session, actor, "orgunits.migrate_undo", target=f"migration:{migration.id}",
                 at=now, row_count=counts.get("member", 0),
                 details={"kind": migration.kind, "to_tree": migration.to_tree,
                          "back_to": migration.previous_current, "rows": counts})
    session.flush()
    return migration


def _blocked(migration: OrgMigration, vi: str, en: str) -> A0Error:
    return A0Error("migration_undo_blocked", record=migration.id, reason_vi=vi, reason_en=en)


def _check_undoable(session: Session, migration: OrgMigration) -> None:
    if migration.status != MIGRATION_APPLIED:
        raise _blocked(migration, "đã hoàn tác rồi", "it was undone already")
    later = session.scalar(select(func.max(OrgMigration.id)).where(
        OrgMigration.id > migration.id, OrgMigration.status == MIGRATION_APPLIED))
    if later is not None:
        raise _blocked(migration, f"lần chuyển đổi {later} làm sau vẫn còn: hoàn tác nó trước",
                       f"the later migration {later} still stands: undo it first")
    moves = {m.unit_id: m for m in session.scalars(select(OrgUnitMove).where(
        OrgUnitMove.migration_id == migration.id)) if m.unit_id is not None}
    for unit in _units_in(session, list(moves)):
        move = moves[unit.id]
        if unit.tree != migration.to_tree or unit.parent_id != move.new_parent_id:
            raise _blocked(migration, f"{unit.code} đã được chuyển tiếp sau đó",
                           f"{unit.code} was moved again since")
    if migration.kind == KIND_REFORM:
        added = session.scalar(select(OrgUnit.code).where(
            OrgUnit.tree == migration.to_tree, OrgUnit.level.in_(LOCAL_LEVELS),
            OrgUnit.id.notin_(list(moves) or [0])).limit(1))
        if added is not None:
            raise _blocked(migration, f"{added} được thêm vào danh mục mới sau đó",
                           f"{added} was added to the new list since")
        used = session.scalar(select(User.username).join(OrgGroup, User.group_id == OrgGroup.id)
                              .where(OrgGroup.migration_id == migration.id,
                                     User.id.notin_([u["id"] for u in migration.users] or [0]))
                              .limit(1))
        if used is not None:
            raise _blocked(migration, f"tài khoản {used} tạo sau đó dùng nhóm huyện cũ",
                           f"the account {used}, made since, uses a former-district group")


def _units_in(session: Session, ids: list[int]) -> list[OrgUnit]:
    out: list[OrgUnit] = []
    for i in range(0, len(ids), 500):
        out += session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids[i:i + 500])))
    return out


# ----------------------------------------------------------------- roll-ups


def recompute_rollups(session: Session, migration: OrgMigration, workers: int = 1
                      ) -> dict[str, Any]:
    """Complete the roll-ups under the current tree after ``migration`` or its undo
    (commits): the months the old tree had cells for were added up again in the
    migration's own transaction (:func:`server.rollups.regroup.regroup`); the months
    of the window it had none for are computed from the register."""
    from server.rollups.jobs import full_recompute, window

    months = sorted(set(window(session)) | set(migration.summary.get("rollup_months", [])))
    tree = tree_name(session)
    done = set(session.scalars(select(RollupCell.month).distinct().where(
        RollupCell.tree == tree, RollupCell.level == NATIONAL_LEVEL)))
    if set(months) - done:
        return full_recompute(session, months=sorted(set(months) - done), workers=workers)
    session.commit()
    cells = session.scalar(select(func.count(RollupCell.id)).where(RollupCell.tree == tree))
    return {"tree": tree, "months": months, "cells": cells or 0}

