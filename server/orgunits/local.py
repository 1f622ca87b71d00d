"""Villages (thôn/bản/tổ dân phố) and collaborator areas (địa bàn) of a commune. No Flask.

Commune staff keep their commune's, administrators everyone's (``MANAGE_UNITS`` in
:mod:`server.security.scope`): add, rename, move, retire, list, and assign a
collaborator to an area. Units are never deleted — records and phones refer to
them — and keep their id and code for life:

* a village's code is its commune's code and a two-digit number (``06001.07``),
  an area's its village's code and a number (``06001.07.1``); a code is never
  reused, in any list;
* a move (:func:`move`) is a small migration of its own
  (:class:`~server.models.orgunits.OrgMigration` of kind ``move``): the unit goes
  under its new parent, everything in it follows to the new commune's codes, and
  ``a0sync orgunits migrate --undo ID`` puts it back;
* :func:`move_households` empties an area into another; a retired area must be
  empty (``area_has_households``), a retired village without active areas
  (``village_has_areas``).

Every change is audited and made in the caller's transaction. A move changes
roll-ups: the caller recomputes them after committing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from a0core.names import fold
from a0core.p0 import vn_day
from server.models.duplicates import DuplicateCandidate
from server.models.orgunits import (
    KIND_MOVE,
    KIND_REFORM,
    LEVEL_AREA,
    LEVEL_COMMUNE,
    LEVEL_VILLAGE,
    LOCAL_LEVELS,
    MIGRATION_APPLIED,
    OrgMigration,
    OrgUnit,
    OrgUnitMove,
)
from server.models.people import Collaborator, Device
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import Alias, Conflict
from server.orgunits.lineage import unknown_unit
from server.orgunits.queries import current_tree
from server.orgunits.relocate import (
    carry,
    place_under,
    place_units,
    raise_to,
    record_move,
    renumber,
)
from server.rollups.queries import counted
from server.security import audit
from server.security.enrolment import new_collaborator, revoke_device
from server.security.scope import MANAGE_UNITS, Scope

SERVER_WRITER = "server"  # the writer of server-made field values (as a review's)
MAX_NAME = 200
# the words a village's name starts with, longest first (the unit's type)
VILLAGE_TYPES = ("Tổ dân phố", "Khu dân cư", "Khu phố", "Thôn", "Bản", "Ấp", "Xóm", "Buôn",
                 "Plei", "Làng", "Sóc", "Khối", "Khu", "Tổ", "Đội")
_NUMBER = re.compile(r"^[0-9]{1,3}$")


def find(session: Session, scope: Scope, code: Any, levels: tuple[str, ...] = LOCAL_LEVELS
         ) -> OrgUnit:
    """A unit of the current tree the actor may manage; anything else is unknown (an old
    code says where it went)."""
    code = code.strip() if isinstance(code, str) else ""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.tree == current_tree(session),
                                                OrgUnit.code == code[:32])) if code else None
    if unit is None or not scope.may(MANAGE_UNITS) or not scope.covers_unit(unit):
        raise unknown_unit(session, code[:32]) if scope.may(MANAGE_UNITS) else \
            A0Error("forbidden")
    if unit.level not in levels:
        if levels == LOCAL_LEVELS:
            raise A0Error("unit_not_local", record=unit.code)
        raise A0Error("unit_parent_invalid", record=unit.code, parent=unit.code)
    return unit


def _name(value: Any) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not 1 <= len(name) <= MAX_NAME:
        raise A0Error("unit_name_invalid", max_length=MAX_NAME)
    return name


def _name_free(session: Session, parent_id: int, name: str, itself: int | None = None) -> None:
    """Two active villages (or areas of one village) of the same name are one made twice
    (a command run again): refused, naming the one that exists."""
    wanted = fold(name)
    for code, other, unit_id in session.execute(select(OrgUnit.code, OrgUnit.name, OrgUnit.id)
                                                .where(OrgUnit.parent_id == parent_id,
                                                       OrgUnit.active)):
        if unit_id != itself and fold(other) == wanted:
            raise A0Error("unit_name_taken", record=code, name=other)


def _type_of(name: str, level: str) -> str | None:
    if level != LEVEL_VILLAGE:
        return None
    folded = name.lower()
    return next((t for t in VILLAGE_TYPES if folded.startswith(t.lower() + " ")), None)


def _code_for(session: Session, parent: OrgUnit, wanted: Any) -> str:
    """``wanted`` checked, or the parent's code and the next number no list has used."""
    width = 2 if parent.level == LEVEL_COMMUNE else 1
    if wanted not in (None, ""):
        code = str(wanted).strip()
        if not (code.startswith(parent.code + ".") and _NUMBER.match(code[len(parent.code) + 1:])):
            raise A0Error("unit_code_invalid", record=code[:32], parent=parent.code,
                          example=f"{parent.code}.{1:0{width}d}")
        if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code).limit(1)):
            raise A0Error("unit_code_taken", record=code)
        return code
    used = set(session.scalars(select(OrgUnit.code).where(
        OrgUnit.code.startswith(parent.code + "."), OrgUnit.level.in_(LOCAL_LEVELS))))
    used |= set(session.scalars(select(Household.area_code).where(
        Household.area_code.startswith(parent.code + ".")).distinct()))
    numbers = {int(c[len(parent.code) + 1:]) for c in used
               if _NUMBER.match(c[len(parent.code) + 1:])}
    number = max(numbers, default=0) + 1
    return f"{parent.code}.{number:0{width}d}"


def add(session: Session, scope: Scope, parent_code: str, name: str, *, code: str | None = None,
        by: str) -> OrgUnit:
    """A new village under a commune, or a new area under a village."""
    parent = find(session, scope, parent_code, (LEVEL_COMMUNE, LEVEL_VILLAGE))
    if not parent.active:
        raise A0Error("unit_retired", record=parent.code)
    level = LEVEL_VILLAGE if parent.level == LEVEL_COMMUNE else LEVEL_AREA
    clean = _name(name)
    _name_free(session, parent.id, clean)
    unit = OrgUnit(tree=parent.tree, code=_code_for(session, parent, code), level=level,
                   depth=0, name=clean, full_name=clean, unit_type=_type_of(clean, level),
                   path="", province_code=parent.province_code, official=False, active=True,
                   created_on=vn_day().isoformat())
    place_under(unit, parent)
    session.add(unit)
    session.flush()
    audit.record(session, by, f"{level}.add", target=f"orgunit:{unit.code}",
                 province_code=unit.province_code, commune_code=unit.commune_code,
                 details={"name": clean, "parent": parent.code})
    return unit


def rename(session: Session, scope: Scope, code: str, name: str, *, by: str) -> OrgUnit:
    unit = find(session, scope, code)
    clean = _name(name)
    if unit.parent_id is not None:
        _name_free(session, unit.parent_id, clean, unit.id)
    before = unit.name
    unit.name = unit.full_name = clean
    unit.unit_type = _type_of(clean, unit.level)
    audit.record(session, by, f"{unit.level}.rename", target=f"orgunit:{unit.code}",
                 province_code=unit.province_code, commune_code=unit.commune_code,
                 details={"before": before, "after": clean})
    session.flush()
    return unit


def move(session: Session, scope: Scope, code: str, to_code: str, *, by: str) -> OrgMigration:
    """Move a village to another commune, or an area to another village, with everything
    in it (a migration of kind ``move``, undoable); the caller recomputes roll-ups."""
    unit = find(session, scope, code)
    wanted = LEVEL_COMMUNE if unit.level == LEVEL_VILLAGE else LEVEL_VILLAGE
    parent = find(session, scope, to_code, (LEVEL_COMMUNE, LEVEL_VILLAGE))
    if parent.level != wanted or parent.id == unit.parent_id:
        raise A0Error("unit_parent_invalid", record=unit.code, parent=parent.code)
    if not parent.active:
        raise A0Error("unit_retired", record=parent.code)
    tree = unit.tree
    migration = OrgMigration(kind=KIND_MOVE, from_tree=tree, to_tree=tree,
                             previous_current=tree, status=MIGRATION_APPLIED,
                             applied_by=by[:80], rows=[{"code": unit.code, "to": parent.code}],
                             summary={}, users=[])
    session.add(migration)
    session.flush()
    commune = parent if parent.level == LEVEL_COMMUNE else \
        session.scalar(select(OrgUnit).where(OrgUnit.tree == tree,
                                             OrgUnit.code == parent.commune_code))
    old = {"old_district": None, "old_province": unit.province_code,
           "old_commune": unit.commune_code or "",
           "new_province": parent.province_code, "new_commune": commune.code}  # type: ignore
    moves = [record_move(session, migration.id, unit, code=unit.code, level=unit.level,
                         village_code=parent.code if unit.level == LEVEL_AREA else None,
                         new_parent=parent, **old)]
    if unit.level == LEVEL_VILLAGE:
        for area in session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id)):
            moves.append(record_move(session, migration.id, area, code=area.code,
                                     level=LEVEL_AREA, village_code=unit.code,
                                     new_parent=unit, **old))
    session.flush()
    place_units(session, moves)
    counts = carry(session, migration.id)
    migration.summary = {"rows": counts, "from": old["old_commune"], "to": commune.code}
    audit.record(session, by, f"{unit.level}.move", target=f"orgunit:{unit.code}",
                 province_code=parent.province_code, commune_code=commune.code,
                 row_count=counts.get("member", 0),
                 details={"migration": migration.id, "to": parent.code,
                          "from_commune": old["old_commune"], "rows": counts})
    session.flush()
    return migration


def live_households(session: Session, area_code: str) -> int:
    return session.scalar(select(func.count()).where(
        Household.area_code == area_code, ~Household.deleted,
        Household.merged_into.is_(None))) or 0


def retire(session: Session, scope: Scope, code: str, *, by: str) -> OrgUnit:
    """Retire an empty area (no households, no active device) or a village without
    active areas; refused with a code that says what to move or revoke first."""
    unit = find(session, scope, code)
    if not unit.active:
        raise A0Error("unit_retired", record=unit.code)
    if unit.level == LEVEL_AREA:
        households = live_households(session, unit.code)
        if households:
            raise A0Error("area_has_households", record=unit.code, households=households)
        devices = session.scalar(select(func.count()).where(
            Device.area_code == unit.code, Device.revoked_at.is_(None))) or 0
        if devices:
            raise A0Error("area_has_devices", record=unit.code, devices=devices)
    else:
        areas = session.scalar(select(func.count()).where(
            OrgUnit.parent_id == unit.id, OrgUnit.active)) or 0
        if areas:
            raise A0Error("village_has_areas", record=unit.code, areas=areas)
    unit.active = False
    audit.record(session, by, f"{unit.level}.retire", target=f"orgunit:{unit.code}",
                 province_code=unit.province_code, commune_code=unit.commune_code)
    session.flush()
    return unit


def assign(session: Session, scope: Scope, area_code: str, *, by: str,
           collaborator: Collaborator | None = None, name: str | None = None,
           phone: str | None = None, new_person: bool = False,
           revoke_devices: bool = False) -> Collaborator:
    """Make a collaborator (an existing one, or a new person) responsible for an area.

    A collaborator's devices are enrolled for one area: one still active for another
    area is refused (``collaborator_has_devices``) unless ``revoke_devices`` revokes it
    (the phone enrols again for the new area)."""
    unit = find(session, scope, area_code, (LEVEL_AREA,))
    if not unit.active:
        raise A0Error("unit_retired", record=unit.code)
    if collaborator is None:
        collaborator = new_collaborator(session, unit, name, phone, new_person)
        before = None
    else:
        before = collaborator.area_code
        devices = [d for d in collaborator.devices
                   if d.revoked_at is None and d.area_code != unit.code]
        if devices and not revoke_devices:
            raise A0Error("collaborator_has_devices", record=collaborator.id,
                          devices=len(devices), area=devices[0].area_code)
        for device in devices:
            revoke_device(session, device.id, by=by, scope=scope)
        collaborator.area_code, collaborator.commune_code = unit.code, unit.commune_code
        collaborator.province_code = unit.province_code
        collaborator.active = True
    audit.record(session, by, "collaborator.assign", target=f"collaborator:{collaborator.id}",
                 province_code=unit.province_code, commune_code=unit.commune_code,
                 details={"area_code": unit.code, "before": before})
    session.flush()
    return collaborator


def move_households(session: Session, scope: Scope, from_code: str, to_code: str, *, by: str,
                    hlc: int) -> int:
    """Move every household of one area (with its members, events, hand-outs, aliases,
    open conflicts and duplicate pairs) into another area; returns the households moved.

    The households' ``area_code`` and ``village_code`` fields are written by the server
    (stamp ``hlc``, writer ``server``), so every replica agrees on where they are; the
    rows get new change numbers, so the new area's phones receive them. The old area's
    phones are not told: an edit they send of a moved household is refused
    (``op_out_of_scope``) and shown to the collaborator. The caller recomputes roll-ups.
    """
    source = find(session, scope, from_code, (LEVEL_AREA,))
    target = find(session, scope, to_code, (LEVEL_AREA,))
    if source.id == target.id:
        raise A0Error("unit_parent_invalid", record=source.code, parent=target.code)
    if not target.active:
        raise A0Error("unit_retired", record=target.code)
    parent = session.get(OrgUnit, target.parent_id) if target.parent_id else None
    village = parent.code if parent is not None and parent.level == LEVEL_VILLAGE else None
    if source.province_code != target.province_code:
        raise_to(session, target.province_code, source.province_code)
    renumber(session, target.province_code, [source.code])
    place = {"area_code": target.code, "commune_code": target.commune_code,
             "province_code": target.province_code}
    moved = 0
    for household in session.scalars(select(Household).where(
            Household.area_code == source.code)):
        data, clocks = dict(household.data or {}), dict(household.clocks or {})
        data["area_code"], clocks["area_code"] = target.code, [hlc, SERVER_WRITER]
        if village is not None:
            data["village_code"], clocks["village_code"] = village, [hlc, SERVER_WRITER]
            household.village_code = village
        household.data, household.clocks = data, clocks
        household.area_code = target.code
        household.commune_code = target.commune_code
        household.province_code = target.province_code
        moved += 1
    session.flush()
    for model in (Member, Event, Distribution, Alias, Conflict, DuplicateCandidate):
        session.execute(update(model).where(model.area_code == source.code).values(place)
                        .execution_options(synchronize_session=False))
    session.execute(update(DuplicateCandidate).where(
        DuplicateCandidate.b_area_code == source.code).values(b_area_code=target.code)
        .execution_options(synchronize_session=False))
    audit.record(session, by, "area.move_households", target=f"orgunit:{source.code}",
                 province_code=target.province_code, commune_code=target.commune_code,
                 row_count=moved, details={"to": target.code})
    session.flush()
    return moved


@dataclass(frozen=True)
class LocalUnitRow:
    """A village or area as listings show it (CLI ``areas list``, the dashboard)."""

    code: str
    level: str
    name: str
    parent: str | None
    commune: str | None
    active: bool
    households: int
    persons: int
    collaborators: list[dict[str, Any]]
    devices: int
    moved_from: str | None  # the old commune it came from, after a reform

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_units(session: Session, scope: Scope, commune_code: str | None = None,
               include_retired: bool = False) -> list[LocalUnitRow]:
    """Villages and areas in the scope (one commune if given), villages before their
    areas, with households, persons, collaborators and active devices per area."""
    tree = current_tree(session)
    query = select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.level.in_(LOCAL_LEVELS),
                                  scope.where(OrgUnit))
    if commune_code:
        query = query.where(OrgUnit.commune_code == commune_code)
    if not include_retired:
        query = query.where(OrgUnit.active)
    units = list(session.scalars(query.order_by(OrgUnit.path)))
    if not units:
        return []
    parents = dict(session.execute(select(OrgUnit.id, OrgUnit.code).where(
        OrgUnit.id.in_({u.parent_id for u in units if u.parent_id}))).all())
    areas = [u.code for u in units if u.level == LEVEL_AREA]
    counts = _per_area(session, areas)
    people: dict[str, list[dict[str, Any]]] = {}
    for c in session.scalars(select(Collaborator).where(Collaborator.area_code.in_(areas),
                                                        Collaborator.active)
                             .order_by(Collaborator.full_name)):
        # what tells two namesakes apart: the phone, and the day each was added
        people.setdefault(c.area_code, []).append({
            "id": c.id, "full_name": c.full_name, "phone": c.phone,
            "added": vn_day(c.created_at.replace(tzinfo=c.created_at.tzinfo or dt.UTC))
            .isoformat()})
    devices = dict(session.execute(select(Device.area_code, func.count()).where(
        Device.area_code.in_(areas), Device.revoked_at.is_(None)).group_by(Device.area_code)).all())
    moved = _moved_from(session, [u.id for u in units])
    out = []
    for u in units:
        households, persons = counts.get(u.code, (0, 0))
        if u.level == LEVEL_VILLAGE:
            below = [a.code for a in units if a.parent_id == u.id]
            households = sum(counts.get(a, (0, 0))[0] for a in below)
            persons = sum(counts.get(a, (0, 0))[1] for a in below)
        out.append(LocalUnitRow(u.code, u.level, u.name, parents.get(u.parent_id),
                                u.commune_code, u.active, households, persons,
                                people.get(u.code, []), devices.get(u.code, 0),
                                moved.get(u.id)))
    return out


def _per_area(session: Session, areas: list[str]) -> dict[str, tuple[int, int]]:
    """Area → (households, persons) as the roll-ups count them: persons who live here
    (:func:`server.rollups.queries.counted`), and the households one of them lives in
    (a merged household as its survivor)."""
    household = func.coalesce(Household.merged_into, Member.household_id)
    out: dict[str, tuple[int, int]] = {}
    for i in range(0, len(areas), 500):
        for area, households, persons in session.execute(
                select(Member.area_code, func.count(household.distinct()), func.count())
                .outerjoin(Household, Household.id == Member.household_id)
                .where(Member.area_code.in_(areas[i:i + 500]), *counted())
                .group_by(Member.area_code)):
            out[area] = (households, persons)
    return out


def _moved_from(session: Session, ids: list[int]) -> dict[int, str]:
    """Unit id → the old commune a reform migration (still applied) took it from."""
    out: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        for unit_id, commune in session.execute(
                select(OrgUnitMove.unit_id, OrgUnitMove.old_commune_code)
                .join(OrgMigration, OrgMigration.id == OrgUnitMove.migration_id)
                .where(OrgMigration.status == MIGRATION_APPLIED, OrgMigration.kind == KIND_REFORM,
                       OrgUnitMove.unit_id.in_(ids[i:i + 500]))):
            out[unit_id] = commune
    return out
