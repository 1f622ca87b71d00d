"""The migration plan: every village and area of an old commune, and the new commune it goes to.

One row per collaborator area (a village without areas has one row of its own;
an area the register knows but no list does has one with no village), with its
old commune, households and persons, the new communes the conversion table
offers (``candidates``, in the table's order) and the chosen one. The choice is

1. what the plan file says (people fill in its blanks), else
2. what someone chose on the dashboard (``migration_choice``), else
3. filled in by itself when the old commune went whole into one new commune
   that the new list holds, else
4. for a retired, empty village or area, its first candidate (it holds nothing),
5. else blank: a split commune, an old commune the table leaves out, a successor
   the new list does not hold. Blank rows block the apply (``plan_incomplete``).

All areas of one village go to one commune, so a choice is made per village (an
area without a village: per area); a village's rows with no choice take the one
its other rows have.

Files: ``FILE.csv`` with the columns of :data:`CSV_COLUMNS` (candidates joined by
``|``) and ``FILE.json`` with the same rows plus names, notes and totals.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.base import utcnow
from server.models.orgunits import (
    LEVEL_AREA,
    LEVEL_COMMUNE,
    LEVEL_DISTRICT,
    LEVEL_VILLAGE,
    LOCAL_LEVELS,
    MigrationChoice,
    OrgTree,
    OrgUnit,
)
from server.models.register import Household, Member
from server.orgunits.formats import reader_note
from server.orgunits.lineage import Successor, successors, unit_names
from server.orgunits.queries import current_tree
from server.security import audit
from server.security.scope import PLAN_MIGRATION, Scope

CSV_COLUMNS = ("old_commune", "village", "area", "households", "persons", "candidates",
               "new_commune")
PLAN_FORMAT = "a0sync-migration-plan"
_COMMUNE = re.compile(r"^\d{5}$")

# how a row got its choice, or why it has none
WHOLE, FILE, DASHBOARD, RETIRED = "whole", "file", "dashboard", "retired"
SPLIT, NO_SUCCESSOR, SUCCESSOR_UNKNOWN = "split", "no_successor", "successor_unknown"


@dataclass
class PlanRow:
    old_tree: str | None
    old_province: str
    old_district: str | None
    old_commune: str
    old_commune_name: str | None
    village: str | None
    village_name: str | None
    area: str | None
    area_name: str | None
    households: int
    persons: int
    candidates: list[Successor]
    new_commune: str | None = None
    new_commune_name: str | None = None
    source: str | None = None        # FILE, DASHBOARD, WHOLE or RETIRED when chosen
    reason: str | None = None        # SPLIT, NO_SUCCESSOR or SUCCESSOR_UNKNOWN
    active: bool = True

    @property
    def key(self) -> str:
        """What a choice is made for: the village, or an area without one."""
        return self.village or self.area or ""

    @property
    def off_table(self) -> bool:
        """Chosen outside what the conversion table offers (allowed, but shown)."""
        return self.new_commune is not None and self.new_commune not in {
            c.code for c in self.candidates}

    def label(self) -> str:
        return "/".join(p for p in (self.old_commune, self.village, self.area) if p)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "candidates"}
        out["candidates"] = [{"code": c.code, "name": c.name, "partly": c.partly}
                             for c in self.candidates]
        out["off_table"] = self.off_table
        return out


@dataclass
class Plan:
    to_tree: str
    rows: list[PlanRow] = field(default_factory=list)

    def missing(self) -> list[PlanRow]:
        return [r for r in self.rows if r.new_commune is None]

    def totals(self) -> list[dict[str, Any]]:
        """Per new commune (blank: not chosen yet): old communes, villages, areas,
        households, persons."""
        out: dict[str | None, dict[str, Any]] = {}
        for row in self.rows:
            t = out.setdefault(row.new_commune, {
                "new_commune": row.new_commune, "name": row.new_commune_name,
                "old_communes": set(), "villages": set(), "areas": 0, "households": 0,
                "persons": 0})
            t["old_communes"].add(row.old_commune)
            if row.village:
                t["villages"].add(row.village)
            t["areas"] += row.area is not None
            t["households"] += row.households
            t["persons"] += row.persons
        return [{**t, "old_communes": sorted(t["old_communes"]), "villages": len(t["villages"])}
                for _, t in sorted(out.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]

    def to_json(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "version": 1, "to_tree": self.to_tree,
                "columns": list(CSV_COLUMNS), "rows": [r.to_json() for r in self.rows],
                "missing": len(self.missing()), "totals": self.totals()}


# ------------------------------------------------------------------ building


def _live_counts(session: Session, model: Any) -> dict[str, int]:
    return dict(session.execute(select(model.area_code, func.count()).where(
        ~model.deleted, model.merged_into.is_(None)).group_by(model.area_code)).all())


def build_plan(session: Session, to_tree: str,
               file_choices: dict[tuple[str, str], str | None] | None = None) -> Plan:
    """The plan for moving every local unit outside ``to_tree`` into it.

    ``file_choices``: (village, area) → new commune (or blank), read from a plan file
    with :func:`read_plan_file`.
    """
    if session.get(OrgTree, to_tree) is None:
        raise A0Error("migration_tree_unknown", record=to_tree[:32])
    if to_tree == current_tree(session):  # the plan would be empty: nothing to move
        raise A0Error("migration_same_list", record=to_tree[:32])
    units = list(session.scalars(select(OrgUnit).where(
        OrgUnit.tree != to_tree, OrgUnit.level.in_(LOCAL_LEVELS)).order_by(OrgUnit.path)))
    by_id = {u.id: u for u in units}
    communes = _communes_of(session, {(u.tree, u.commune_code) for u in units})
    households, persons = _live_counts(session, Household), _live_counts(session, Member)

    plan = Plan(to_tree)
    with_areas = set()
    for unit in units:
        if unit.level != LEVEL_AREA:
            continue
        parent = by_id.get(unit.parent_id)  # type: ignore[arg-type]
        village = parent if parent is not None and parent.level == LEVEL_VILLAGE else None
        if village is not None:
            with_areas.add(village.id)
        plan.rows.append(_row(communes, unit, village, unit, households, persons))
    for unit in units:
        if unit.level == LEVEL_VILLAGE and unit.id not in with_areas:
            plan.rows.append(_row(communes, unit, unit, None, households, persons))
    plan.rows += _register_only(session, to_tree, households, persons)

    for tree, rows in _by_tree(plan.rows).items():
        found = successors(session, tree or "", sorted({r.old_commune for r in rows}), to_tree) \
            if tree else {}
        for row in rows:
            row.candidates = found.get(row.old_commune, [])
    _choose(session, plan, file_choices or {})
    plan.rows.sort(key=lambda r: (r.old_province, r.old_commune, r.village or "", r.area or ""))
    return plan


def _communes_of(session: Session, keys: set[tuple[str, str | None]]
                 ) -> dict[tuple[str, str], tuple[str, str | None, str]]:
    """(tree, commune) → (full name, district code, province code)."""
    out = {}
    for tree in {t for t, _ in keys}:
        codes = sorted({c for t, c in keys if t == tree and c})
        for i in range(0, len(codes), 500):
            rows = session.execute(select(OrgUnit, OrgUnit.parent_id).where(
                OrgUnit.tree == tree, OrgUnit.code.in_(codes[i:i + 500]))).all()
            parents = {u.id: u for u in session.scalars(select(OrgUnit).where(
                OrgUnit.id.in_({p for _, p in rows if p})))}
            for unit, parent_id in rows:
                parent = parents.get(parent_id)
                district = parent.code if parent is not None and \
                    parent.level == LEVEL_DISTRICT else None
                out[(tree, unit.code)] = (unit.full_name, district, unit.province_code)
    return out


def _row(communes: dict[tuple[str, str], tuple[str, str | None, str]], unit: OrgUnit,
         village: OrgUnit | None, area: OrgUnit | None, households: dict[str, int],
         persons: dict[str, int]) -> PlanRow:
    name, district, province = communes.get((unit.tree, unit.commune_code or ""),
                                            (None, None, unit.province_code))
    counted = area.code if area is not None else None
    return PlanRow(unit.tree, province, district, unit.commune_code or "", name,
                   village.code if village else None, village.name if village else None,
                   area.code if area else None, area.name if area else None,
                   households.get(counted, 0) if counted else 0,
                   persons.get(counted, 0) if counted else 0, [],
                   active=unit.active and (village is None or village.active))


def _register_only(session: Session, to_tree: str, households: dict[str, int],
                   persons: dict[str, int]) -> list[PlanRow]:
    """Areas only the register knows (no unit in any list), under a commune the new
    list does not hold: moved all the same, never left behind."""
    known = set(session.scalars(select(OrgUnit.code).where(
        OrgUnit.tree == to_tree, OrgUnit.level == LEVEL_COMMUNE)))
    local = set(session.scalars(select(OrgUnit.code).where(OrgUnit.level.in_(LOCAL_LEVELS))))
    rows = []
    for area, commune, province in session.execute(
            select(Household.area_code, Household.commune_code, Household.province_code)
            .distinct()):
        if area in local or commune in known:
            continue
        old = session.scalar(select(OrgUnit).where(OrgUnit.code == commune,
                                                   OrgUnit.level == LEVEL_COMMUNE).limit(1))
        rows.append(PlanRow(old.tree if old else None, province, None, commune,
                            old.full_name if old else None, None, None, area, None,
                            households.get(area, 0), persons.get(area, 0), []))
    return rows


def _by_tree(rows: list[PlanRow]) -> dict[str | None, list[PlanRow]]:
    out: dict[str | None, list[PlanRow]] = defaultdict(list)
    for row in rows:
        out[row.old_tree].append(row)
    return out


def _choose(session: Session, plan: Plan,
            file_choices: dict[tuple[str, str], str | None]) -> None:
    keys = {(r.village or "", r.area or ""): r for r in plan.rows}
    by_key: dict[str, str] = {}
    for (village, area), choice in file_choices.items():
        row = keys.get((village, area))
        if row is None:
            raise A0Error("plan_row_unknown", record="/".join(p for p in (village, area) if p))
        if choice:
            key = row.key
            if by_key.setdefault(key, choice) != choice:
                raise A0Error("plan_village_split", record=key,
                              choices=f"{by_key[key]}, {choice}")
    stored = dict(session.execute(select(MigrationChoice.unit_code, MigrationChoice.new_commune)
                                  .where(MigrationChoice.to_tree == plan.to_tree)).all())
    names = unit_names(session, plan.to_tree, set(by_key.values()) | set(stored.values())
                       | {c.code for r in plan.rows for c in r.candidates})
    for row in plan.rows:
        known = [c for c in row.candidates if c.name is not None]
        if row.key in by_key:
            row.new_commune, row.source = by_key[row.key], FILE
        elif row.key in stored:
            row.new_commune, row.source = stored[row.key], DASHBOARD
        elif len(row.candidates) == 1 and not row.candidates[0].partly and known:
            row.new_commune, row.source = known[0].code, WHOLE
        elif not row.active and row.households == 0 and row.persons == 0 and known:
            row.new_commune, row.source = known[0].code, RETIRED
        if not row.candidates:
            row.reason = NO_SUCCESSOR
        elif len(known) < len(row.candidates):
            row.reason = SUCCESSOR_UNKNOWN
        elif len(row.candidates) > 1 or row.candidates[0].partly:
            row.reason = SPLIT
        if row.new_commune is not None:
            if row.new_commune not in names:
                raise A0Error("plan_choice_invalid", record=row.label(), choice=row.new_commune,
                              tree=plan.to_tree)
            row.new_commune_name = names[row.new_commune]
    # a village's rows without a choice take the one its other rows have
    chosen = {r.key: (r.new_commune, r.new_commune_name, r.source) for r in plan.rows
              if r.new_commune is not None}
    for row in plan.rows:
        if row.new_commune is None and row.key in chosen:
            row.new_commune, row.new_commune_name, row.source = chosen[row.key]


# ------------------------------------------------------------------- files


def plan_paths(path: Path) -> tuple[Path, Path]:
    """``FILE`` → (FILE.csv, FILE.json), whatever suffix FILE has."""
    stem = path.with_suffix("") if path.suffix.lower() in (".csv", ".json") else path
    return stem.with_suffix(".csv"), stem.with_suffix(".json")


def write_plan(plan: Plan, path: Path) -> tuple[Path, Path]:
    csv_path, json_path = plan_paths(path)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in plan.rows:
        writer.writerow([r.old_commune, r.village or "", r.area or "", r.households, r.persons,
                         "|".join(c.code for c in r.candidates), r.new_commune or ""])
    csv_path.write_text(out.getvalue(), encoding="utf-8")
    json_path.write_text(json.dumps(plan.to_json(), ensure_ascii=False, indent=1),
                         encoding="utf-8")
    return csv_path, json_path


def read_plan_file(path: Path) -> dict[tuple[str, str], str | None]:
    """(village, area) → the new commune written in a plan file (``None``: blank)."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise A0Error("plan_file_invalid", file=name, detail="không mở được hoặc không phải "
                      "UTF-8 / cannot be opened or not UTF-8", note=reader_note(exc)) from None
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise A0Error("plan_file_invalid", file=name, detail="không phải JSON hợp lệ / "
                          "not valid JSON", note=reader_note(exc)) from None
        if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT \
                or not isinstance(doc.get("rows"), list):
            raise A0Error("plan_file_invalid", file=name, detail=f"not a {PLAN_FORMAT}")
        rows = doc["rows"]
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise A0Error("plan_file_invalid", file=name,
                          detail="thiếu cột / missing columns " + ", ".join(missing))
        rows = list(reader)
    out: dict[tuple[str, str], str | None] = {}
    for number, row in enumerate(rows, 2):
        if not isinstance(row, dict):
            raise A0Error("plan_file_invalid", file=name, detail=f"row {number}")
        village, area, choice = (str(row.get(k) or "").strip()
                                 for k in ("village", "area", "new_commune"))
        if not (village or area) or (choice and not _COMMUNE.match(choice)):
            raise A0Error("plan_file_invalid", file=name,
                          detail=f"dòng / row {number}: {village}/{area}/{choice}"[:200])
        out[(village, area)] = choice or None
    return out


def describe_missing(rows: list[PlanRow], limit: int = 20) -> str:
    shown = ", ".join(r.label() for r in rows[:limit])
    return shown + (f" … (+{len(rows) - limit})" if len(rows) > limit else "")


def reasons(plan: Plan) -> Counter[str]:
    return Counter(r.reason or "-" for r in plan.missing())


# -------------------------------------------------------- dashboard choices


def choose(session: Session, scope: Scope, to_tree: str, key: str, new_commune: str | None, *,
           by: str) -> None:
    """Record (or, with ``None``, clear) the new commune chosen for a village — or an area
    without one — of the plan for ``to_tree``; audited. The actor's scope must cover
    the unit's old commune (province staff: their province)."""
    if not scope.may(PLAN_MIGRATION):
        raise A0Error("forbidden")
    plan = build_plan(session, to_tree)
    row = next((r for r in plan.rows if r.key == key), None)
    if row is None or not scope.covers(row.old_province, row.old_commune):
        raise A0Error("plan_row_unknown", record=str(key)[:40])
    if new_commune is not None and unit_names(session, to_tree, [new_commune]).get(
            new_commune) is None:
        raise A0Error("plan_choice_invalid", record=row.label(), choice=str(new_commune)[:8],
                      tree=to_tree)
    found = session.get(MigrationChoice, (to_tree, key))
    if new_commune is None:
        if found is not None:
            session.delete(found)
    elif found is None:
        session.add(MigrationChoice(to_tree=to_tree, unit_code=key, new_commune=new_commune,
                                    chosen_by=by[:80]))
    else:
        found.new_commune, found.chosen_by, found.chosen_at = new_commune, by[:80], utcnow()
    audit.record(session, by, "migration.choose", target=f"orgunit:{key}",
                 province_code=row.old_province, commune_code=row.old_commune,
                 details={"to_tree": to_tree, "new_commune": new_commune})
    session.flush()
