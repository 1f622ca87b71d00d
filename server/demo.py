"""``a0sync demo``: a working server on the embedded default, with a real commune.

Creates the SQLite database in the instance folder, imports the official 2025 list,
adds villages and collaborator areas to one real commune, fills them with a
synthetic but realistic register, and serves the dashboard on localhost. Running
it again reuses what is there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import func, select
from werkzeug.serving import run_simple

from a0core.hlc import HybridClock
from server.extensions import db
from server.models.orgunits import LEVEL_VILLAGE
from server.models.people import Collaborator
from server.models.register import Household
from server.orgunits.formats import UnitSpec, read_official_list
from server.orgunits.importer import import_official, upsert_local_units
from server.orgunits.queries import unit_by_code
from server.register.bulk import Writer, load_area
from server.rollups.jobs import full_recompute
from server.sync.duplicates import thresholds_for
from server.sync.duplicates.detect import scan_commune

DEMO_COMMUNE = "12619"  # Xã Diên Hà, tỉnh Hưng Yên (2025 list)
DEMO_SEED = 20250701
BUNDLED_LIST = Path(__file__).parent / "data" / "admin_units" / "vn_units_2025_two_level.json"
SERVER_DEVICE = "server"


def prepare_demo(households: int, commune_code: str = DEMO_COMMUNE, seed: int = DEMO_SEED,
                 admin_units: Path = BUNDLED_LIST) -> str:
    """Create and fill the demo database; return the commune's full name."""
    from server.synthetic import generate_commune, local_units  # heavy tables: load on use

    upgrade(directory=current_app.extensions["migrate"].directory, revision="heads")
    session = db.session
    commune = unit_by_code(session, commune_code)
    if commune is None:
        import_official(session, read_official_list(admin_units), source=str(admin_units))
        session.commit()
        commune = unit_by_code(session, commune_code)
    if commune is None:
        raise click.ClickException(f"commune {commune_code} is not in {admin_units}")
    loaded = session.scalar(select(func.count()).where(Household.commune_code == commune_code))
    if loaded:
        return commune.full_name

    units = local_units(commune_code, n_villages=8, seed=seed)
    upsert_local_units(session, commune.tree, [
        UnitSpec(u.code, u.level, u.name, u.name, None, u.parent_code, commune.province_code)
        for u in units])
    today = dt.date.today()
    period = (today.replace(year=today.year - 1), today)
    writer = Writer(SERVER_DEVICE, HybridClock().now())
    for area in generate_commune(seed, commune_code, commune.full_name, households, period,
                                 villages=[u for u in units if u.level == LEVEL_VILLAGE]):
        load_area(session, area, commune.province_code, commune_code, writer)
        session.add(Collaborator(full_name=area.collaborator_name, area_code=area.area_code,
                                 commune_code=commune_code, province_code=commune.province_code))
    session.commit()
    # bulk-loaded data has no batch, so no after-batch hook ran: roll up and look for
    # duplicates now, as the nightly job and `a0sync duplicates scan` would
    full_recompute(session)
    scan_commune(session, commune_code, thresholds_for(current_app))
    session.commit()
    return commune.full_name


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
    from server.models.people import User

    if not db.session.scalar(select(func.count()).select_from(User)):
        click.echo("Tạo tài khoản / create an account: a0sync users create lan.tran "
                   f"--role commune_staff --unit {DEMO_COMMUNE}")
    if no_serve:
        return
    click.echo(f"Mở / open http://{host}:{port}/")
    run_simple(host, port, current_app._get_current_object(), threaded=True)
