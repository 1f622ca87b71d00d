"""Who may see or change what: decided here and nowhere else (DESIGN §6).

A :class:`Scope` is built once per request from the actor (a device or a web
user) and answers two questions the same way everywhere:

* :meth:`Scope.where` — the SQL filter every query over a register-like table
  (anything carrying ``province_code``, ``commune_code`` and ``area_code``) must
  apply; the query layer never filters by hand.
* :meth:`Scope.covers` — the same rule in Python, for a single row or org unit.

A device reaches its one area; commune staff their commune; district staff the
communes below their district; province staff their province; administrators
everything. Person-level records need :attr:`Scope.person_level` on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_COMMUNE, OrgUnit
from server.models.people import (
    ROLE_ADMIN,
    ROLE_COMMUNE,
    ROLE_DISTRICT,
    ROLE_PROVINCE,
    Device,
    User,
)

AREA, COMMUNE, DISTRICT, PROVINCE, NATIONAL = "area", "commune", "district", "province", "national"
ROLE_LEVEL = {ROLE_COMMUNE: COMMUNE, ROLE_DISTRICT: DISTRICT, ROLE_PROVINCE: PROVINCE,
              ROLE_ADMIN: NATIONAL}


# What a web user may do on the dashboard beside reading sync status in scope
# (DESIGN §1): commune staff (and administrators) enrol and revoke devices,
# import batch files carried by hand and review conflicts; district and province
# staff read. Reviewing shows person-level values, so it needs person_level too.
MANAGE_DEVICES, IMPORT_BATCHES, REVIEW, VIEW_SYNC = "devices", "import", "review", "sync"
ACTIONS: dict[str, frozenset[str]] = {
    VIEW_SYNC: frozenset({COMMUNE, DISTRICT, PROVINCE, NATIONAL}),
    MANAGE_DEVICES: frozenset({COMMUNE, NATIONAL}),
    IMPORT_BATCHES: frozenset({COMMUNE, NATIONAL}),
    REVIEW: frozenset({COMMUNE, NATIONAL}),
}
PERSON_LEVEL_ACTIONS = frozenset({REVIEW})

# Added with the duplicates queue and the district API pages: commune staff (and
# administrators) compare and merge duplicate records, person-level like REVIEW;
# every role may read how the district API works; district and province staff
# (and administrators) make API tokens for their district systems — commune
# staff use the dashboard itself.
MERGE, API_HELP, API_TOKENS = "merge", "api_help", "api_tokens"
ACTIONS.update({
    MERGE: frozenset({COMMUNE, NATIONAL}),
    API_HELP: frozenset({COMMUNE, DISTRICT, PROVINCE, NATIONAL}),
    API_TOKENS: frozenset({DISTRICT, PROVINCE, NATIONAL}),
})
PERSON_LEVEL_ACTIONS = PERSON_LEVEL_ACTIONS | {MERGE}

# Added with the roll-up pages: aggregates, so every staff role reads them for the
# units its scope covers (commune staff: their commune and its areas).
VIEW_ROLLUPS = "rollups"
ACTIONS[VIEW_ROLLUPS] = frozenset({COMMUNE, DISTRICT, PROVINCE, NATIONAL})

# Added with villages, areas and the 2025 reform (issue 13): commune staff (for their
# commune) and administrators keep the villages and collaborator areas; province
# staff and administrators choose where the villages of a split commune go before a
# migration plan is applied (aggregates only: households and persons per village).
MANAGE_UNITS, PLAN_MIGRATION = "units", "migration"
ACTIONS.update({
    MANAGE_UNITS: frozenset({COMMUNE, NATIONAL}),
    PLAN_MIGRATION: frozenset({PROVINCE, NATIONAL}),
})

# Added with contraceptive logistics (issue 17): every staff role reads the stock pages
# and reports of what its scope covers (VIEW_ROLLUPS); the commune health station's
# staff record the station's movements, confirm returns and review stock alerts.
MANAGE_STOCK = "stock"
ACTIONS[MANAGE_STOCK] = frozenset({COMMUNE, NATIONAL})


def _communes_below(session: Session, unit: OrgUnit) -> frozenset[str]:
    """A district's communes (what its scope filters on); empty for other levels."""
    if unit.level != DISTRICT:
        return frozenset()
    return frozenset(session.scalars(select(OrgUnit.code).where(
        OrgUnit.tree == unit.tree, OrgUnit.level == LEVEL_COMMUNE,
        OrgUnit.path.startswith(unit.path))))


def scope_label(level: str, code: str | None, group: str | None = None) -> str:
    """A scope as the district API's cursors name it: ``district:180``,
    ``province:20+group:180`` (province staff limited to a former district)."""
    return f"{level}:{code}" + (f"+group:{group}" if group else "")


@dataclass(frozen=True)
class Scope:
    actor: str                    # "device:<id>" or "user:<username>", for the audit log
    level: str                    # area | commune | district | province | national | none
    code: str | None = None       # the unit's code at that level
    # for a district: the communes below it; for province staff limited to a group
    # of communes (a former district, after the 2025 reform): the group's communes
    communes: frozenset[str] = frozenset()
    person_level: bool = False
    group: str | None = None      # the group's code (the former district's), if limited
    former: str | None = None     # the account's scope label before a reform migration

    @property
    def label(self) -> str:
        return scope_label(self.level, self.code, self.group)

    @classmethod
    def none(cls, actor: str) -> Scope:
        return cls(actor, "none")

    @classmethod
    def for_device(cls, device: Device) -> Scope:
        if device.revoked:
            return cls.none(f"device:{device.id}")
        return cls(f"device:{device.id}", AREA, device.area_code, person_level=True)

    @classmethod
    def for_user(cls, session: Session, user: User) -> Scope:
        actor = f"user:{user.username}"
        level = ROLE_LEVEL.get(user.role)
        if not user.active or level is None:
            return cls.none(actor)
        person = user.role in (ROLE_COMMUNE, ROLE_ADMIN) or bool(user.person_access)
        if level == NATIONAL:
            return cls(actor, NATIONAL, person_level=person)
        unit = user.org_unit
        if unit is None or unit.level != level:
            return cls.none(actor)  # a misconfigured account sees nothing, not everything
        if user.group_id is not None:
            group = user.group
            if level != PROVINCE or group is None or group.province_code != unit.code:
                return cls.none(actor)
            return cls(actor, level, unit.code, frozenset(group.communes), person,
                       group=group.code, former=user.former_scope)
        return cls(actor, level, unit.code, _communes_below(session, unit), person,
                   former=user.former_scope)

    def where(self, model: Any) -> ColumnElement[bool]:
        """The filter for a table with province_code, commune_code and area_code."""
        if self.level == NATIONAL:
            return true()
        if self.level == PROVINCE:
            if self.group is not None:
                return (model.province_code == self.code) \
                    & model.commune_code.in_(sorted(self.communes))
            return model.province_code == self.code
        if self.level == DISTRICT:
            return model.commune_code.in_(sorted(self.communes)) if self.communes else false()
        if self.level == COMMUNE:
            return model.commune_code == self.code
        if self.level == AREA:
            return model.area_code == self.code
        return false()

    def where_rollup(self, model: Any) -> ColumnElement[bool]:
        """:meth:`where` for roll-up cells, plus the scope's own unit's cell (a district's
        own cell carries no commune code, so :meth:`where` alone leaves it out)."""
        if self.level in (PROVINCE, DISTRICT, COMMUNE) and self.code and self.group is None:
            return self.where(model) | ((model.level == self.level)
                                        & (model.unit_code == self.code))
        return self.where(model)

    def covers(self, province_code: str | None, commune_code: str | None,
               area_code: str | None = None) -> bool:
        """:meth:`where` for one row, in Python."""
        if self.level == NATIONAL:
            return True
        if self.level == PROVINCE:
            return province_code == self.code and (self.group is None
                                                   or commune_code in self.communes)
        if self.level == DISTRICT:
            return commune_code in self.communes
        if self.level == COMMUNE:
            return commune_code == self.code
        if self.level == AREA:
            return area_code == self.code
        return False

    def covers_unit(self, unit: OrgUnit) -> bool:
        """May this actor act on this org unit (or on what lies below it)?"""
        if self.level == AREA:
            return unit.code == self.code
        if self.level == DISTRICT:
            return unit.commune_code in self.communes or (
                unit.level == DISTRICT and unit.code == self.code)
        if self.level in (COMMUNE, PROVINCE) and unit.level == self.level:
            return unit.code == self.code and self.group is None
        return self.covers(unit.province_code, unit.commune_code, unit.code)

    def may(self, action: str) -> bool:
        """May this web user do ``action`` (see :data:`ACTIONS`) anywhere in the scope?"""
        if self.level not in ACTIONS.get(action, frozenset()):
            return False
        return self.person_level or action not in PERSON_LEVEL_ACTIONS

    # ---------------------------------------------------------------- narrowing
    # Added for the district API: a request may ask for one unit inside its scope,
    # and a reader of per-province change sequences needs to know which provinces
    # its rows can live in.

    def narrowed_to(self, session: Session, unit: OrgUnit) -> Scope | None:
        """This scope limited to ``unit`` and what lies below it; ``None`` if not theirs.

        Callers apply both filters (``self.where(M) & narrowed.where(M)``): the
        narrowed scope never widens what the actor sees. Villages have no filter
        of their own (areas are the finest level rows carry): ``ValueError``.
        """
        if self.level == "none" or not self.covers_unit(unit):
            return None
        if unit.level not in (PROVINCE, DISTRICT, COMMUNE, AREA):
            raise ValueError(unit.level)
        return Scope(self.actor, unit.level, unit.code, _communes_below(session, unit),
                     self.person_level)

    def provinces(self, session: Session) -> frozenset[str] | None:
        """The provinces this scope's rows can carry (``None``: every province).

        Rows take their province code from their area's org unit, so the
        provinces of the scope's units in any imported tree hold all of them; a
        superset only costs a query that finds nothing.
        """
        if self.level == NATIONAL:
            return None
        if self.level == PROVINCE:
            return frozenset({self.code}) if self.code else frozenset()
        codes = sorted(self.communes) if self.level == DISTRICT else [self.code or ""]
        if self.level not in (DISTRICT, COMMUNE, AREA) or not codes:
            return frozenset()
        return frozenset(session.scalars(select(OrgUnit.province_code).distinct()
                                         .where(OrgUnit.code.in_(codes))))
