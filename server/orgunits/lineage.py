"""Which old commune went where: the official conversion table as data (issue 13).

:func:`import_conversion` writes the table's links into ``org_lineage`` between an
old tree (the 2025-03 three-level list) and a new one (the 2025-07 two-level
list), idempotently, and reports what does not fit: old communes of the old tree
the table leaves out, codes it names that a list does not hold. Nothing is
dropped or guessed: the migration plan (:mod:`server.orgunits.plan`) asks people
to choose wherever the table is silent or ambiguous.

:func:`successors` and :func:`predecessors` answer both directions; :func:`where`
tells where any code went (the old code stays searchable), also for a village or
area moved by a migration.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.orgunits import (
    LEVEL_COMMUNE,
    LEVEL_DISTRICT,
    MIGRATION_APPLIED,
    OrgLineage,
    OrgMigration,
    OrgTree,
    OrgUnit,
    OrgUnitMove,
)
from server.orgunits.formats import ConversionTable
from server.orgunits.queries import current_tree


@dataclass
class LineageResult:
    old_tree: str
    new_tree: str
    old_communes: int = 0
    links: int = 0
    split: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    without_successor: list[str] = field(default_factory=list)   # old tree, not in table
    unknown_old: list[str] = field(default_factory=list)         # in table, not in old tree
    unknown_new: dict[str, int] = field(default_factory=dict)    # new code → links to it
    without_predecessor: list[str] = field(default_factory=list)  # new tree, no link

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _communes(session: Session, tree: str) -> set[str]:
    return set(session.scalars(select(OrgUnit.code).where(
        OrgUnit.tree == tree, OrgUnit.level == LEVEL_COMMUNE)))


def default_trees(session: Session, table: ConversionTable) -> tuple[str | None, str | None]:
    """The trees a table links by default: the newest list with districts dated before
    the reform (old), and the newest list without districts dated on or after it."""
    trees = list(session.scalars(select(OrgTree)))
    date = table.effective_date or "9999-12-31"
    old = [t for t in trees if LEVEL_DISTRICT in (t.levels or []) and (t.data_date or "") < date]
    new = [t for t in trees if LEVEL_DISTRICT not in (t.levels or [])
           and (t.data_date or "") >= (table.effective_date or "")]
    pick = lambda found: max(found, key=lambda t: (t.data_date or "", t.name)).name  # noqa: E731
    return (pick(old) if old else None), (pick(new) if new else None)


def import_conversion(session: Session, table: ConversionTable, source: str,
                      old_tree: str | None = None, new_tree: str | None = None) -> LineageResult:
    """Write the table's links between ``old_tree`` and ``new_tree``; the caller commits.

    Both lists must have been imported first (``lineage_tree_missing``), so that the
    report can name what each list lacks.
    """
    default_old, default_new = default_trees(session, table)
    old_tree, new_tree = old_tree or default_old, new_tree or default_new
    for name, which_vi, which_en in (
            (old_tree, "cũ (3 cấp, trước 01/07/2025)", "old (three-level, before 2025-07-01)"),
            (new_tree, "mới (2 cấp, từ 01/07/2025)", "new (two-level, from 2025-07-01)")):
        if name is None or session.get(OrgTree, name) is None:
            raise A0Error("lineage_tree_missing", record=f" ({name[:32]})" if name else "",
                          which_vi=which_vi, which_en=which_en)
    assert old_tree is not None and new_tree is not None
    result = LineageResult(old_tree, new_tree)
    old_codes, new_codes = _communes(session, old_tree), _communes(session, new_tree)

    wanted: dict[tuple[str, str], tuple[bool, int]] = {}
    unknown_new: Counter[str] = Counter()
    for link in table.links:
        result.old_communes += 1
        result.split += link.partly
        if link.old_code not in old_codes:
            result.unknown_old.append(link.old_code)
        for rank, (code, _province) in enumerate(link.new):
            wanted[(link.old_code, code)] = (link.partly, rank)
            if code not in new_codes:
                unknown_new[code] += 1
    result.links = len(wanted)
    mapped = {old for old, _ in wanted}
    result.without_successor = sorted(old_codes - mapped)
    result.without_predecessor = sorted(new_codes - {new for _, new in wanted})
    result.unknown_new = dict(sorted(unknown_new.items()))

    existing = {(r.old_code, r.new_code): r for r in session.scalars(select(OrgLineage).where(
        OrgLineage.old_tree == old_tree, OrgLineage.new_tree == new_tree))}
    gone = [r.id for key, r in existing.items() if key not in wanted]
    for i in range(0, len(gone), 500):
        session.execute(delete(OrgLineage).where(OrgLineage.id.in_(gone[i:i + 500])))
    result.removed = len(gone)
    rows = []
    for (old, new), (partly, rank) in wanted.items():
        row = existing.get((old, new))
        if row is None:
            rows.append({"old_tree": old_tree, "old_code": old, "new_tree": new_tree,
                         "new_code": new, "partly": partly, "rank": rank,
                         "effective_date": table.effective_date, "source": source[:500]})
        elif (row.partly, row.rank, row.effective_date) != (partly, rank, table.effective_date):
            row.partly, row.rank, row.effective_date = partly, rank, table.effective_date
            row.source = source[:500]
            result.updated += 1
        else:
            result.unchanged += 1
    for i in range(0, len(rows), 2000):
        session.execute(insert(OrgLineage), rows[i:i + 2000])
    result.created = len(rows)
    session.flush()
    return result


@dataclass(frozen=True)
class Successor:
    code: str
    name: str | None  # None: the new list has no such commune
    partly: bool
    rank: int


def successors(session: Session, old_tree: str, codes: list[str], new_tree: str
               ) -> dict[str, list[Successor]]:
    """Old commune → the new communes it went into (table order), with their names."""
    out: dict[str, list[Successor]] = {code: [] for code in codes}
    links = []
    for i in range(0, len(codes), 500):
        links += session.execute(select(OrgLineage.old_code, OrgLineage.new_code,
                                        OrgLineage.partly, OrgLineage.rank).where(
            OrgLineage.old_tree == old_tree, OrgLineage.new_tree == new_tree,
            OrgLineage.old_code.in_(codes[i:i + 500]))).all()
    names = unit_names(session, new_tree, {new for _, new, _, _ in links})
    for old, new, partly, rank in sorted(links, key=lambda r: (r[0], r[3])):
        out[old].append(Successor(new, names.get(new), partly, rank))
    return out


def unit_names(session: Session, tree: str, codes: set[str] | list[str]) -> dict[str, str]:
    codes = sorted(codes)
    names: dict[str, str] = {}
    for i in range(0, len(codes), 500):
        names.update(session.execute(select(OrgUnit.code, OrgUnit.full_name).where(
            OrgUnit.tree == tree, OrgUnit.code.in_(codes[i:i + 500]))).all())
    return names


def predecessors(session: Session, new_tree: str, code: str) -> list[tuple[str, str, bool]]:
    """(old tree, old commune, partly) of every commune that went (partly) into ``code``."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(OrgLineage.old_tree, OrgLineage.old_code, OrgLineage.partly)
        .where(OrgLineage.new_tree == new_tree, OrgLineage.new_code == code)
        .order_by(OrgLineage.old_code))]


@dataclass(frozen=True)
class Whereabouts:
    """Where a code is now: itself (current), or what it became (an old code)."""

    code: str
    current: OrgUnit | None                # the unit of the current tree with this code
    old: OrgUnit | None                    # a unit of another tree with this code
    went_to: list[tuple[str, str | None, bool]]  # (current code, name, partly)
    villages: list[OrgUnitMove]            # local units moved out of it, with their new place


def where(session: Session, code: str) -> Whereabouts:
    """Look a code up in the current tree and, failing that, in older ones.

    An old commune answers the new communes the conversion table sends it to and
    the villages the last reform migration actually moved out of it; a village or
    area moved by a migration answers its new commune.
    """
    tree = current_tree(session)
    here = session.scalar(select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.code == code))
    old = session.scalar(select(OrgUnit).where(OrgUnit.tree != tree, OrgUnit.code == code)
                         .order_by(OrgUnit.tree.desc()).limit(1))
    went: list[tuple[str, str | None, bool]] = []
    moves: list[OrgUnitMove] = []
    if old is not None and tree is not None and old.level == LEVEL_COMMUNE:
        went = [(s.code, s.name, s.partly)
                for s in successors(session, old.tree, [code], tree)[code]]
        moves = list(session.scalars(
            select(OrgUnitMove).join(OrgMigration, OrgMigration.id == OrgUnitMove.migration_id)
            .where(OrgMigration.status == MIGRATION_APPLIED, OrgMigration.to_tree == tree,
                   OrgUnitMove.old_commune_code == code, OrgUnitMove.old_tree == old.tree)
            .order_by(OrgUnitMove.code)))
    return Whereabouts(code, here, old, went, moves)


def _district_went(session: Session, district: OrgUnit) -> list[str]:
    """The current communes a former district's communes went into: a district code
    kept from before the reform is named, not called unknown."""
    tree = current_tree(session)
    old_communes = select(OrgUnit.code).where(OrgUnit.parent_id == district.id,
                                              OrgUnit.level == LEVEL_COMMUNE)
    return sorted(set(session.scalars(select(OrgLineage.new_code).where(
        OrgLineage.old_tree == district.tree, OrgLineage.new_tree == tree,
        OrgLineage.old_code.in_(old_communes)))))


def unknown_unit(session: Session, code: str) -> A0Error:
    """The refusal for a code the current tree lacks: where an old code went
    (``orgunit_replaced``), else ``orgunit_unknown``."""
    found = where(session, code)
    went = [c for c, _, _ in found.went_to] or sorted({m.new_commune_code
                                                      for m in found.villages})
    if found.old is not None and found.old.level == LEVEL_DISTRICT:
        went = _district_went(session, found.old)
    if found.old is not None and went:
        return A0Error("orgunit_replaced", record=code, successors=", ".join(went))
    return A0Error("orgunit_unknown", record=code)
