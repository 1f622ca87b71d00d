"""The ``a0sync`` command line: a Flask CLI group with the project's commands.

``a0sync`` gives every Flask command (``run``, ``routes``, ``db upgrade`` from
Flask-Migrate) plus ours. ``DATABASE_URL`` selects the database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from a0core.errors import A0Error
from server.extensions import db


def _create_app() -> Flask:
    from server import create_app

    return create_app()


def fail(error: A0Error) -> None:
    """Print a refusal in both languages and its code, then exit non-zero."""
    click.echo(f"{error.code}: {error.vi}\n{error.code}: {error.en}", err=True)
    sys.exit(2)


@click.group("orgunits", help="Cây đơn vị hành chính / the org-unit tree.")
def orgunits() -> None:
    pass


@orgunits.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tree", help="Name of the tree (default: derived from the list's date).")
@click.option("--make-current", is_flag=True,
              help="Use this list for the register (the first list imported always is).")
def orgunits_import(path: Path, tree: str | None, make_current: bool) -> None:
    """Import an official list (2025 two-level or 2025-03 three-level JSON)."""
    from server.orgunits.formats import read_official_list
    from server.orgunits.importer import import_official

    try:
        official = read_official_list(path)
        result = import_official(db.session, official, source=str(path.resolve()), tree=tree,
                                 make_current=make_current)
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        fail(error)
    click.echo(f"{result.tree}: tạo mới/created {result.created}, cập nhật/updated "
               f"{result.updated}, không đổi/unchanged {result.unchanged}, "
               f"ngừng/deactivated {result.deactivated}")
    click.echo(json.dumps(result.counts, ensure_ascii=False))


@orgunits.command("stats")
@click.option("--tree", help="Tree to count (default: the list imported last).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def orgunits_stats(tree: str | None, as_json: bool) -> None:
    """Count active units per level."""
    from server.orgunits.importer import level_counts
    from server.orgunits.queries import latest_tree

    tree = tree or latest_tree(db.session)
    counts = level_counts(db.session, tree) if tree else {}
    if as_json:
        click.echo(json.dumps(counts, ensure_ascii=False))
    else:
        click.echo(f"tree: {tree}")
        for level, count in counts.items():
            click.echo(f"{level:10} {count}")


@click.command("import-batch")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_batch(files: tuple[Path, ...]) -> None:
    """Nhập gói dữ liệu mang tay / import batch files carried by hand (.a0b)."""
    from flask import current_app

    from server.sync.ingest import ingest_batch
    from server.sync.runtime import ingest_context

    ctx = ingest_context(current_app)
    failed = 0
    for path in files:
        try:
            receipt = ingest_batch(db.session, path.read_bytes(), ctx, carrier="file")
        except A0Error as error:
            failed += 1
            click.echo(f"{path.name}: {error.code}: {error.vi} / {error.en}", err=True)
            continue
        counts: dict[str, int] = {}
        for verdict in receipt["receipt"]["verdicts"]:
            counts[verdict["verdict"]] = counts.get(verdict["verdict"], 0) + 1
        click.echo(f"{path.name}: " + json.dumps(counts, sort_keys=True))
    if failed:
        sys.exit(2)


def register_commands(app: Flask) -> None:
    from server.demo import demo_command
    from server.security.cli import devices, enroll, keys, users

    app.cli.add_command(orgunits)
    for command in (keys, enroll, devices, users):
        app.cli.add_command(command)
    app.cli.add_command(demo_command)
    app.cli.add_command(import_batch)


main = FlaskGroup(
    name="a0sync", create_app=_create_app, load_dotenv=False,
    help="a0sync — Sổ A0 điện tử: máy chủ và công cụ quản trị / server and admin tools.",
)
