"""A province as a deployment meets the 2025 reform: registers kept under the old list.

Lạng Sơn (province 20) of the real 2025-03 three-level list is current, with
villages, areas, collaborators and a synthetic register (a year of P0 events) in a
few old communes; the real 2025-07 two-level list of the province is imported
beside it (not current), and the real conversion table's links of the province.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping

from sqlalchemy.orm import Session

from a0core.hlc import HybridClock
from server.models.orgunits import LEVEL_VILLAGE
from server.models.people import Collaborator
from server.orgunits.formats import ConversionTable, UnitSpec, read_admin_file
from server.orgunits.importer import upsert_local_units
from server.orgunits.lineage import import_conversion
from server.orgunits.queries import unit_by_code
from server.register.bulk import Writer, load_area
from tests.conftest import SHARED_DATA, THREE_LEVEL, TWO_LEVEL
from tests.support.units import import_provinces

CONVERSION = SHARED_DATA / "admin_units" / "conversion_2025_old_to_new.json"
OLD, NEW = "vn-2025-03", "vn-2025-07"
PROVINCE = "20"
# old commune → households: 06010 went whole into 06001 (which absorbed it), 06622
# was split between 06613 and 06625
COMMUNES = {"06001": 40, "06010": 30, "06622": 60}


def conversion_of(provinces: set[str]) -> ConversionTable:
    table = read_admin_file(CONVERSION)
    assert isinstance(table, ConversionTable)
    return dataclasses.replace(table, links=[link for link in table.links
                                             if link.old_province in provinces])


def raw_links(old_code: str) -> dict:
    """The table's own record for an old commune, read straight from the file."""
    return json.loads(CONVERSION.read_text(encoding="utf-8"))["old_to_new"][old_code]


def build(session: Session, communes: Mapping[str, int] = COMMUNES, seed: int = 7,
          villages: int = 3) -> dict[str, list[str]]:
    """The old-list world; returns commune → its area codes."""
    import_provinces(session, THREE_LEVEL, [PROVINCE])
    import_provinces(session, TWO_LEVEL, [PROVINCE])
    import_conversion(session, conversion_of({PROVINCE}), str(CONVERSION))
    today = dt.date.today()
    period = (today.replace(year=today.year - 1, day=1), today)
    writer = Writer("server", HybridClock().now())
    from server.synthetic import generate_commune, local_units

    areas: dict[str, list[str]] = {}
    for code, households in communes.items():
        commune = unit_by_code(session, code, OLD)
        assert commune is not None, code
        units = local_units(code, n_villages=villages, seed=seed)
        upsert_local_units(session, OLD, [UnitSpec(u.code, u.level, u.name, u.name, None,
                                                   u.parent_code, PROVINCE) for u in units])
        for area in generate_commune(seed, code, commune.full_name, households, period,
                                     villages=[u for u in units if u.level == LEVEL_VILLAGE]):
            load_area(session, area, PROVINCE, code, writer)
            session.add(Collaborator(full_name=area.collaborator_name, area_code=area.area_code,
                                     commune_code=code, province_code=PROVINCE))
            areas.setdefault(code, []).append(area.area_code)
    session.commit()
    return areas


def staff(session: Session) -> dict[str, int]:
    """Web accounts bound to old units: commune staff of 06010 and 06622, district staff
    of Tràng Định (180: 06001, 06010), province staff of Lạng Sơn, an administrator."""
    from server.security.users import create_user

    made = {}
    for username, role, unit in (("xa.caominh", "commune_staff", "06010"),
                                 ("xa.binhxa", "commune_staff", "06622"),
                                 ("huyen.trangdinh", "district_staff", "180"),
                                 ("tinh.langson", "province_staff", "20"),
                                 ("quan.tri", "admin", None)):
        user = create_user(session, username, username, "mật-khẩu-đủ-dài-1", role, unit,
                           person_access=True)
        made[username] = user.id
    session.commit()
    return made


def split_choices(session: Session, choices: Mapping[str, str] | None = None) -> None:
    """Choose (as a province officer on the dashboard would) where 06622's villages go:
    by default the first to 06613, the others to 06625."""
    from server.orgunits.plan import choose
    from server.security.scope import NATIONAL, Scope

    choices = choices or {"06622.01": "06613", "06622.02": "06625", "06622.03": "06625"}
    scope = Scope("user:tinh", NATIONAL, person_level=True)
    for village, commune in choices.items():
        choose(session, scope, NEW, village, commune, by="user:tinh")
    session.commit()


def migrate(session: Session):
    """Build the plan with the choices made, apply it, commit, roll up again."""
    from server.orgunits.plan import build_plan
    from server.orgunits.reform import apply_plan, recompute_rollups

    migration = apply_plan(session, build_plan(session, NEW), "cli")
    session.commit()
    recompute_rollups(session, migration)
    return migration
