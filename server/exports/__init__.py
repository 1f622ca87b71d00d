"""Exports of roll-ups and person-level records: CSV, XLSX, JSON (DESIGN §5).

* ``queries`` — scope-filtered, streamed reads;
* ``writers`` — the three formats, row by row;
* ``service`` — the unit of work: format and permission checks, audit;
* the ``a0sync export`` command (here) and the HTTP endpoints
  (:mod:`server.web.api_exports`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


def init_app(app: Any) -> None:
    from server.web.api_exports import bp

    app.cli.add_command(export_command)
    app.register_blueprint(bp)


@click.command("export")
@click.argument("kind", type=click.Choice(["rollups", "persons"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write ('-' for standard output, not for xlsx).")
@click.option("--month", "months", multiple=True, metavar="YYYY-MM", help="Roll-ups: months.")
@click.option("--level", "levels", multiple=True, help="Roll-ups: levels (area, commune, …).")
@click.option("--unit", "units", multiple=True, help="Roll-ups: unit codes.")
@click.option("--user", "username", help="Export with this web user's scope (default: all, "
              "as the server's operator).")
def export_command(kind: str, fmt: str, out: Path, months: tuple[str, ...],
                   levels: tuple[str, ...], units: tuple[str, ...],
                   username: str | None) -> None:
    """Xuất dữ liệu / export roll-ups or person-level records."""
    from sqlalchemy import select

    from a0core.errors import A0Error
    from server.cli import fail
    from server.exports.queries import RollupFilter
    from server.exports.service import export_to
    from server.extensions import db
    from server.models.people import User
    from server.security.scope import NATIONAL, Scope

    session = db.session
    if username:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.BadParameter(f"{username}: không có / no such user", param_hint="--user")
        scope = Scope.for_user(session, user)
    else:
        scope = Scope("cli", NATIONAL, person_level=True)
    try:
        if str(out) == "-":
            count = export_to(session, scope, kind, fmt, sys.stdout.buffer,
                              RollupFilter(months, levels, units))
        else:
            with out.open("wb") as stream:
                count = export_to(session, scope, kind, fmt, stream,
                                  RollupFilter(months, levels, units))
    except A0Error as error:
        fail(error)
        return
    click.echo(f"{count} dòng / rows → {out}", err=True)
