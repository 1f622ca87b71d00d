"""The ``a0sync`` command line: a Flask CLI group with the project's commands.

``a0sync`` gives every Flask command (``run``, ``routes``, ``db upgrade`` from
Flask-Migrate) plus ours. ``DATABASE_URL`` selects the database.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo

from a0core.errors import A0Error
from server.extensions import db


def _create_app() -> Flask:
    from server import create_app

    return create_app()


# what to type, for refusals whose message says it in words (the web offers a form)
CLI_HINTS = {
    "collaborator_exists": (
        "Thêm --collaborator-id SỐ để chọn người đã có, hoặc --new-person nếu đây là người khác",
        "Add --collaborator-id NUMBER to choose that person, or --new-person if this is "
        "someone else"),
}


def fail(error: A0Error) -> None:
    """Print a refusal in both languages and its code (then what to type, and the
    ``note``: a tool's own words, such as a parser's), then exit non-zero."""
    click.echo(f"{error.code}: {error.vi}\n{error.code}: {error.en}", err=True)
    if error.code in CLI_HINTS:
        click.echo("\n".join(CLI_HINTS[error.code]), err=True)
    if error.params.get("note"):
        click.echo(f"ghi chú / note: {error.params['note']}", err=True)
    sys.exit(2)


def nothing_yet(vi: str, en: str) -> None:
    """An empty listing says so, and what to do next, in both languages (a blank output
    reads as a command that did not work)."""
    click.echo(f"{vi}\n{en}")


def require_commune(code: str) -> None:
    """An unknown commune code is an error, never a run over nothing."""
    from server.models.orgunits import LEVEL_COMMUNE
    from server.orgunits.queries import unit_by_code

    unit = unit_by_code(db.session, code)
    if unit is None or not unit.active or unit.level != LEVEL_COMMUNE:
        fail(A0Error("orgunit_unknown", record=code[:32]))


# ---------------------------------------------------------------- an up-to-date database
# Every command but these needs the database at the migrations' head: on one that
# was never upgraded (or is older than the code) it says so, with a code, instead
# of a traceback. `db …` manages the schema itself, `demo` upgrades its own
# database, `backup`/`restore` copy files, `keys` keeps the server's keys in the
# instance folder, `routes` and `shell` read no table.
SCHEMA_FREE = frozenset({"db", "demo", "backup", "restore", "keys", "routes", "shell"})


def schema_state() -> tuple[set[str], set[str]]:
    """(the database's revisions, the code's heads)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from server import MIGRATIONS_DIR

    heads = set(ScriptDirectory(MIGRATIONS_DIR).get_heads())
    # the check is silent: Alembic's "Context impl …" lines (once a `db upgrade` in
    # this process configured its logging) would come before a command's own output
    said = logging.getLogger("alembic.runtime.migration")
    level = said.level
    said.setLevel(logging.WARNING)
    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        said.setLevel(level)
    return current, heads


def require_upgraded() -> None:
    """Refuse (``database_not_upgraded``) unless the database is at the code's heads;
    an unreachable database is ``database_unreachable``, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        current, heads = schema_state()
    except SQLAlchemyError as exc:
        fail(A0Error("database_unreachable", record=type(exc.orig or exc).__name__))
    if current != heads:
        fail(A0Error("database_not_upgraded", record=", ".join(sorted(current)) or "—",
                     expected=", ".join(sorted(heads))))


def _guarded(command: click.Command) -> None:
    """Check the schema before ``command`` (and every command under it) runs."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _guarded(sub)
        return
    callback = command.callback
    if callback is None or getattr(callback, "a0_schema_checked", False):
        return

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        with app.app_context():
            require_upgraded()
        return callback(*args, **kwargs)

    checked.a0_schema_checked = True  # type: ignore[attr-defined]
    command.callback = checked


class A0Group(FlaskGroup):
    """``a0sync``: Flask's commands and ours, each (but :data:`SCHEMA_FREE`) checking
    first that the database is upgraded — commands added later included."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None and name not in SCHEMA_FREE:
            _guarded(command)
        return command


@click.group("orgunits", help="Cây đơn vị hành chính / the org-unit tree.")
def orgunits() -> None:
    pass


@orgunits.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tree", help="Name of the tree (default: derived from the list's date).")
@click.option("--make-current", is_flag=True,
              help="Use this list for the register (the first list imported always is).")
@click.option("--from-tree", help="Conversion table: the old list (default: the newest "
              "list with districts dated before the reform).")
@click.option("--to-tree", help="Conversion table: the new list (default: the newest list "
              "without districts dated from the reform).")
def orgunits_import(path: Path, tree: str | None, make_current: bool, from_tree: str | None,
                    to_tree: str | None) -> None:
    """Import an official list (2025 two-level or 2025-03 three-level JSON), or the
    official conversion of old communes to new ones (lineage)."""
    from server.orgunits.formats import ConversionTable, read_admin_file
    from server.orgunits.importer import import_official
    from server.orgunits.lineage import import_conversion

    try:
        found = read_admin_file(path)
        if isinstance(found, ConversionTable):
            lineage = import_conversion(db.session, found, str(path.resolve()), from_tree,
                                        to_tree)
        else:
            result = import_official(db.session, found, source=str(path.resolve()), tree=tree,
                                     make_current=make_current)
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        fail(error)
    if isinstance(found, ConversionTable):
        _report_lineage(lineage)
        return
    click.echo(f"{result.tree}: tạo mới/created {result.created}, cập nhật/updated "
               f"{result.updated}, không đổi/unchanged {result.unchanged}, "
               f"ngừng/deactivated {result.deactivated}")
    from server.orgunits.queries import current_tree

    current = current_tree(db.session)
    if current != result.tree:  # a second list: say which one the register keeps using
        click.echo(f"sổ vẫn dùng danh mục {current}; {result.tree} được giữ bên cạnh / the "
                   f"register keeps the list {current}; {result.tree} is kept alongside")
    click.echo(json.dumps(result.counts, ensure_ascii=False))


def _report_lineage(result) -> None:
    click.echo(f"{result.old_tree} → {result.new_tree}: {result.old_communes} xã cũ / old "
               f"communes, {result.links} liên kết / links, {result.split} xã bị chia / split; "
               f"tạo mới/created {result.created}, cập nhật/updated {result.updated}, "
               f"bỏ/removed {result.removed}, không đổi/unchanged {result.unchanged}")
    if result.without_successor:
        click.echo(f"{len(result.without_successor)} xã cũ không có trong bảng (kế hoạch chuyển "
                   f"đổi sẽ yêu cầu chọn tay) / old communes the table leaves out (the plan asks "
                   f"for a choice): {' '.join(result.without_successor)}")
    if result.unknown_new:
        listed = ", ".join(f"{code} ({n})" for code, n in result.unknown_new.items())
        click.echo(f"mã xã mới không có trong {result.new_tree} (số liên kết) / new codes "
                   f"not in {result.new_tree} (links): {listed}")
    if result.unknown_old:
        click.echo(f"mã xã cũ không có trong {result.old_tree} / old codes not in "
                   f"{result.old_tree}: {' '.join(result.unknown_old)}")
    click.echo(json.dumps({k: len(v) if isinstance(v, list | dict) else v
                           for k, v in result.as_dict().items()}, ensure_ascii=False))


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
    elif tree is None:
        nothing_yet("Chưa nhập danh mục đơn vị hành chính nào: a0sync orgunits import FILE",
                    "No administrative-unit list imported yet: a0sync orgunits import FILE")
    else:
        click.echo(f"tree: {tree}")
        for level, count in counts.items():
            click.echo(f"{level:10} {count}")


@click.command("import-batch")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--accept-revoked", is_flag=True,
              help="Nhận gói của máy đã thu hồi nếu niêm phong trước khi thu hồi (ghi nhật ký) / "
                   "import a revoked device's batch sealed before its revocation (audited).")
def import_batch(files: tuple[Path, ...], accept_revoked: bool) -> None:
    """Nhập gói dữ liệu mang tay / import batch files carried by hand (.a0b)."""
    from flask import current_app

    from server.security.cli import cli_scope
    from server.sync.carried import import_carried_batch
    from server.sync.runtime import ingest_context

    ctx = ingest_context(current_app)
    failed = 0
    for path in files:
        try:
            receipt = import_carried_batch(db.session, path.read_bytes(), ctx, cli_scope(),
                                           filename=path.name, accept_revoked=accept_revoked)
        except A0Error as error:
            db.session.rollback()
            failed += 1
            click.echo(f"{path.name}: {error.code}: {error.vi} / {error.en}", err=True)
            continue
        counts: dict[str, int] = {}
        for verdict in receipt["verdicts"]:
            counts[verdict["verdict"]] = counts.get(verdict["verdict"], 0) + 1
        click.echo(f"{path.name}: " + json.dumps(counts, sort_keys=True))
    if failed:
        sys.exit(2)


@click.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True,
              help="Địa chỉ nghe (sau reverse proxy) / address to listen on (behind a proxy).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Số tiến trình / worker processes (default: 2 × cores + 1, at most 8).")
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--timeout", type=click.IntRange(10, 3600), default=120, show_default=True,
              help="Giây trước khi khởi động lại tiến trình treo / seconds before a stuck "
                   "worker is restarted.")
def serve_command(bind: str, workers: int | None, threads: int, timeout: int) -> None:
    """Chạy máy chủ sản xuất (gunicorn) / run the production server (gunicorn)."""
    import os

    from server.serving import default_workers, gunicorn_options, serve

    # the work after batches runs in a thread of each worker, not in the request
    # (server.sync.followups); the pool fits the worker's threads (server.config)
    os.environ.setdefault("A0SYNC_FOLLOWUPS", "thread")
    os.environ.setdefault("A0SYNC_THREADS", str(threads))
    serve(gunicorn_options(bind, workers or default_workers(), threads, timeout))


@click.command("scheduler")
def scheduler_command() -> None:
    """Chạy các việc định kỳ hằng đêm (một tiến trình) / run the nightly jobs (one process)."""
    from flask import current_app

    from server.scheduler import start

    click.echo("a0sync scheduler: roll-ups and housekeeping (Ctrl+C to stop)")
    start(current_app._get_current_object(), blocking=True)


@click.group("followups")
def followups() -> None:
    """Việc làm sau mỗi gói (tổng hợp, trùng lặp) / the work queued after batches."""


@followups.command("status")
def followups_status() -> None:
    """Số việc đang chờ và bị hỏng, theo loại / rows queued and failed, per kind (JSON)."""
    from server.sync.followups import backlog

    click.echo(json.dumps(backlog(db.session), sort_keys=True))


@followups.command("drain")
def followups_drain() -> None:
    """Làm ngay các việc đang chờ / do the queued work now."""
    from flask import current_app

    from server.sync.runtime import followups_for

    click.echo(json.dumps(followups_for(current_app).drain(db.engine), sort_keys=True))


@followups.command("retry")
def followups_retry() -> None:
    """Thử lại các việc bị hỏng / give failed rows another round of attempts."""
    from server.sync.followups import retry_failed

    count = retry_failed(db.session)
    db.session.commit()
    click.echo(f"{count}")


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(out: Path) -> None:
    """Sao lưu cơ sở dữ liệu khi máy chủ đang chạy / back up the live database to OUT
    (SQLite: the online backup API; PostgreSQL: pg_dump)."""
    from server.backup import backup

    try:
        done = backup(db.engine, out)
    except A0Error as error:
        fail(error)
    click.echo(f"đã sao lưu / backed up ({done.kind}): {done.path} "
               f"({done.size / 2**20:.1f} MiB, {done.seconds:.1f} s)")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True,
              help="Thay cơ sở dữ liệu đang có dữ liệu / replace a database that holds data.")
def restore_command(source: Path, replace: bool) -> None:
    """Khôi phục bản sao lưu (dừng máy chủ trước) / restore a backup (stop the server
    first); then run `a0sync db upgrade`."""
    from server.backup import restore

    db.session.remove()
    try:
        done = restore(db.engine, source, replace=replace)
    except A0Error as error:
        fail(error)
    click.echo(f"đã khôi phục / restored ({done.kind}) {done.path} in {done.seconds:.1f} s; "
               "tiếp theo / next: a0sync db upgrade")


@click.group("person", help="Dữ liệu của một người (Luật 91/2025/QH15) / one person's data.")
def person() -> None:
    pass


@person.command("report")
@click.argument("member_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Ghi ra tệp (quyền 0600) / write to a file (mode 0600) instead of stdout.")
def person_report(member_id: str, out: Path | None) -> None:
    """Mọi dữ liệu về một người và ai đã đọc / everything held about one person, and who
    read it (JSON; audited)."""
    from server.personal_data import report
    from server.security.at_rest import write_private
    from server.security.cli import CLI_ACTOR

    try:
        found = report(db.session, member_id, by=CLI_ACTOR)
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        fail(error)
    text = json.dumps(found, ensure_ascii=False, indent=2)
    if out is None:
        click.echo(text)
    else:
        write_private(out, text.encode("utf-8"))


@person.command("erase")
@click.argument("member_id")
@click.option("--reason", required=True, help="Lý do (ghi nhật ký) / why (audited).")
@click.option("--yes", is_flag=True, help="Không hỏi lại / do not ask for confirmation.")
def person_erase(member_id: str, reason: str, yes: bool) -> None:
    """Xoá dữ liệu cá nhân của một người / erase one person: a tombstone devices pull
    (audited; cannot be undone)."""
    from flask import current_app

    from server.personal_data import erase
    from server.security.cli import CLI_ACTOR
    from server.sync.runtime import ingest_context

    if not yes:
        click.confirm(f"Xoá vĩnh viễn dữ liệu của {member_id}? / Erase {member_id} for good?",
                      abort=True)
    try:
        done = erase(db.session, member_id, by=CLI_ACTOR, reason=reason,
                     hooks=ingest_context(current_app).hooks)
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        fail(error)
    click.echo(f"đã xoá / erased: {member_id} " + json.dumps(done))


def register_commands(app: Flask) -> None:
    from server.demo import demo_command
    from server.orgunits.cli import register
    from server.security.cli import devices, enroll, keys, users

    app.cli.add_command(orgunits)
    for command in (keys, enroll, devices, users, *register(orgunits)):
        app.cli.add_command(command)
    app.cli.add_command(demo_command)
    app.cli.add_command(import_batch)
    for command in (serve_command, scheduler_command, backup_command, restore_command,
                    person, followups):
        app.cli.add_command(command)


main = A0Group(
    name="a0sync", create_app=_create_app, load_dotenv=False,
    help="a0sync — Sổ A0 điện tử: máy chủ và công cụ quản trị / server and admin tools.",
)
