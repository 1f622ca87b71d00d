"""``a0sync duplicates scan --commune CODE``: detect over a whole commune (after a bulk load)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from server.extensions import db


@click.group("duplicates", help="Hồ sơ trùng / duplicate households and persons.")
def duplicates_cli() -> None:
    pass


@duplicates_cli.command("scan")
@click.option("--commune", "communes", multiple=True, required=True, help="commune code")
@with_appcontext
def scan(communes: tuple[str, ...]) -> None:
    """Re-score every household and member of the communes (bulk-loaded data has no hook)."""
    from server.cli import require_commune
    from server.sync.duplicates import thresholds_for
    from server.sync.duplicates.detect import scan_commune

    for commune in communes:  # every code checked before any is scanned
        require_commune(commune)
    for commune in communes:
        result = scan_commune(db.session, commune, thresholds_for(current_app))
        db.session.commit()
        click.echo(json.dumps({"commune": commune, "members": result.members_scored,
                               "pairs_scored": result.pairs_scored,
                               "member_candidates": len(result.open_members),
                               "household_candidates": len(result.open_households)}))
