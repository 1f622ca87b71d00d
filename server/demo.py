"""``a0sync demo``: a working server on the embedded default, with a real commune.

Creates the SQLite database in the instance folder, imports the official 2025 list
and, where the official data is kept (``../shared/data/admin_units``, not bundled:
GPL), the 2025-03 three-level list with the reform's conversion table, as an
administrator would with ``a0sync orgunits import`` (the roll-ups by former
district need them); adds villages and collaborator areas to one real commune,
fills them with a synthetic but realistic register, and serves the dashboard on
localhost. Running it again reuses what is there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import run_simple

from a0core import p0
from server.extensions import db
from server.models.orgunits import LEVEL_VILLAGE, OrgLineage
from server.models.people import Collaborator
from server.models.register import Household
from server.models.reports import P0Report
from server.orgunits.formats import (
    ConversionTable,
    UnitSpec,
    read_admin_file,
    read_official_list,
)
from server.orgunits.importer import import_official, upsert_local_units
from server.orgunits.lineage import import_conversion
from server.orgunits.queries import unit_by_code
from server.register.bulk import Writer, load_area, refresh_statistics
from server.reporting import deadline_day
from server.rollups.jobs import full_recompute, month_range
from server.security.keys import keystore_for
from server.sync.duplicates import thresholds_for
from server.sync.duplicates.detect import scan_commune
from server.sync.runtime import ingest_context

DEMO_COMMUNE = "12619"  # Xã Diên Hà, tỉnh Hưng Yên (2025 list)
DEMO_SEED = 20250701
BUNDLED_LIST = Path(__file__).parent / "data" / "admin_units" / "vn_units_2025_two_level.json"
# the official data outside the repository (GPL): the list before the reform and the
# conversion of every old commune to the new ones
SHARED_UNITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "admin_units"
THREE_LEVEL = "dvhcvn_2025-03-01_three_level.json"
CONVERSION = "conversion_2025_old_to_new.json"
SERVER_DEVICE = "server"
DEMO_USER = "demo"          # a commune officer of the demo commune: log in with it first
DEMO_ADMIN = "demo.admin"  # every commune, units, imports of revoked devices


def import_lineage(session: Session, folder: Path = SHARED_UNITS) -> bool:
    """The list before the reform, then the conversion table linking it to the current
    one, from ``folder`` (as ``a0sync orgunits import`` would), once: nothing when
    the links are there; False when the files are not."""
    if session.scalar(select(OrgLineage.id).limit(1)) is not None:
        return True
    paths = [folder / THREE_LEVEL, folder / CONVERSION]
    if not all(p.is_file() for p in paths):
        return False
    import_official(session, read_official_list(paths[0]), source=str(paths[0]))
    table = read_admin_file(paths[1])
    assert isinstance(table, ConversionTable)
    import_conversion(session, table, str(paths[1]))
    session.commit()
    return True


def prepare_demo(households: int, commune_code: str = DEMO_COMMUNE, seed: int = DEMO_SEED,
                 admin_units: Path = BUNDLED_LIST) -> str:
    """Create and fill the demo database; return the commune's full name."""
    from server.demo_season import PHONES, loaded_stamp, run_season, season_start
    from server.synthetic import generate_commune, local_units  # heavy tables: load on use
    from server.synthetic.operations import register_at
    from server.synthetic.slips import monthly_slips

    upgrade(directory=current_app.extensions["migrate"].directory, revision="heads")
    session = db.session
    commune = unit_by_code(session, commune_code)
    if commune is None:
        import_official(session, read_official_list(admin_units), source=str(admin_units))
        session.commit()
        commune = unit_by_code(session, commune_code)
    if commune is None:
        raise click.ClickException(f"commune {commune_code} is not in {admin_units}")
    if not import_lineage(session):
        click.echo(f"Không có danh mục trước cải cách ở / no pre-reform list in {SHARED_UNITS}: "
                   "trang theo huyện cũ sẽ trống / the former-district pages stay empty")
    loaded = session.scalar(select(func.count()).where(Household.commune_code == commune_code))
    if loaded:
        return commune.full_name

    units = local_units(commune_code, n_villages=8, seed=seed)
    upsert_local_units(session, commune.tree, [
        UnitSpec(u.code, u.level, u.name, u.name, None, u.parent_code, commune.province_code)
        for u in units])
    now = dt.datetime.now(dt.UTC)
    today = p0.vn_day(now)
    start = season_start(today)  # the phones' season: the register as it stood then
    period = (today.replace(year=today.year - 1), today)
    writer = Writer(SERVER_DEVICE, loaded_stamp(start))
    months = month_range(p0.month_of(period[0]), p0.last_closed_month(today))
    areas = list(generate_commune(seed, commune_code, commune.full_name, households, period,
                                  villages=[u for u in units if u.level == LEVEL_VILLAGE]))
    collaborators = {}
    for n, area in enumerate(areas):
        phone = n < PHONES  # its phone sends the season's changes and slips itself
        load_area(session, register_at(area, start.isoformat()) if phone else area,
                  commune.province_code, commune_code, writer)
        collaborators[area.area_code] = Collaborator(
            full_name=area.collaborator_name, area_code=area.area_code,
            commune_code=commune_code, province_code=commune.province_code)
        session.add(collaborators[area.area_code])
        # the monthly P0 slips its collaborator closed (on paper, entered at the station)
        session.add_all(P0Report(**slip, province_code=commune.province_code,
                                 commune_code=commune_code, form_version=1, hlc=writer.hlc,
                                 device_id=SERVER_DEVICE)
                        for slip in monthly_slips(area, [m for m in months if not phone or
                                                         m < p0.month_of(start)], seed, now))
    refresh_statistics(session)
    session.commit()
    run_season(session, ingest_context(current_app), keystore_for(current_app), areas,
               collaborators, start, now, seed, deadline_day())
    # bulk-loaded data has no batch, so no after-batch hook ran for it: roll up and look
    # for duplicates now, as the nightly job and `a0sync duplicates scan` would
    full_recompute(session)
    scan_commune(session, commune_code, thresholds_for(current_app))
    session.commit()
    return commune.full_name


def demo_accounts() -> list[tuple[str, str, str]]:
    """On a database without web users: a commune officer of the demo commune and an
    administrator, each with a fresh random password; (what, username, password) to
    print once. Nothing when users exist (a demo run again keeps its accounts)."""
    import secrets

    from server.models.people import ROLE_ADMIN, ROLE_COMMUNE, User
    from server.security.users import create_user

    if db.session.scalar(select(func.count()).select_from(User)):
        return []
    made = []
    for what, username, full_name, role, unit in (
            ("Cán bộ dân số xã / commune officer", DEMO_USER, "Cán bộ dân số xã (mẫu)",
             ROLE_COMMUNE, DEMO_COMMUNE),
            ("Quản trị / administrator", DEMO_ADMIN, "Quản trị viên (mẫu)", ROLE_ADMIN, None)):
        password = secrets.token_urlsafe(12)
        create_user(db.session, username, full_name, password, role, unit, created_by="demo")
        made.append((what, username, password))
    db.session.commit()
    return made


@click.command("demo")
@click.option("--households", default=1500, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the data and exit.")
def demo_command(households: int, host: str, port: int, no_serve: bool) -> None:
    """Tạo dữ liệu mẫu và chạy máy chủ / prepare demo data and run the server."""
    name = prepare_demo(households)
    click.echo(f"Dữ liệu mẫu / demo data: {name} ({DEMO_COMMUNE})")
    click.echo(f"Cơ sở dữ liệu / database: {current_app.config['SQLALCHEMY_DATABASE_URI']}")
    made = demo_accounts()
    for what, username, password in made:
        click.echo(f"Tài khoản mẫu / demo account ({what}): {username} / {password}")
    if not made:  # printed once, on the first run; a forgotten one is set again
        click.echo(f"Tài khoản đã có từ lần chạy trước / accounts kept from the last run "
                   f"({DEMO_USER}, {DEMO_ADMIN}); mật khẩu mới / a new password: "
                   f"a0sync users set-password {DEMO_USER}")
    if no_serve:
        return
    click.echo(f"Mở / open http://{host}:{port}/")
    run_simple(host, port, current_app._get_current_object(), threaded=True)
