"""``a0sync areas …`` and ``a0sync orgunits migrate|where|migrations`` (registered in
server/cli.py). The command line acts as the server's operator (national scope);
every change is audited like one made on the dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from a0core.errors import A0Error

CLI_ACTOR = "cli"


def vn(n: int) -> str:
    """An integer as Vietnamese write it: 12.345."""
    return f"{n:,}".replace(",", ".")


def _scope():
    from server.security.scope import NATIONAL, Scope

    return Scope(CLI_ACTOR, NATIONAL, person_level=True)


def _refuse(error: A0Error) -> None:
    from server.cli import fail
    from server.extensions import db

    db.session.rollback()
    fail(error)


def _recompute(workers: int) -> dict[str, Any]:
    from server.extensions import db
    from server.rollups.jobs import full_recompute

    return full_recompute(db.session, workers=workers)


def _workers_option(f):
    from server.rollups.jobs import DEFAULT_WORKERS

    return click.option("--workers", type=click.IntRange(1, 64), default=DEFAULT_WORKERS,
                        show_default=True,
                        help="Tiến trình tính lại số liệu / roll-up processes.")(f)


# ------------------------------------------------------------------- areas


@click.group("areas", help="Thôn/bản/tổ dân phố và địa bàn cộng tác viên / villages and "
             "collaborator areas.")
def areas() -> None:
    pass


@areas.command("list")
@click.option("--commune", "commune_code", help="Mã xã (mã cũ cũng được) / commune code "
              "(a former code too).")
@click.option("--all", "include_retired", is_flag=True, help="Cả đơn vị đã ngừng / retired too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def areas_list(commune_code: str | None, include_retired: bool, as_json: bool) -> None:
    """Liệt kê thôn và địa bàn / list villages and areas."""
    from server.extensions import db
    from server.orgunits.lineage import where
    from server.orgunits.local import list_units

    note = None
    if commune_code:
        found = where(db.session, commune_code)
        if found.current is None and found.old is None:
            _refuse(A0Error("orgunit_unknown", record=commune_code[:32]))
        if found.current is None:
            note = _went_to(found)
    rows = list_units(db.session, _scope(), commune_code, include_retired)
    if note is not None:  # a former commune: the villages that came from it
        rows = list_units(db.session, _scope(), None, include_retired)
        rows = [r for r in rows if r.moved_from == commune_code or (
            r.level == "area" and any(v.code == r.parent and v.moved_from == commune_code
                                      for v in rows))]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], ensure_ascii=False))
        return
    if note:
        click.echo(note)
    if not rows:
        from server.cli import nothing_yet

        nothing_yet("Chưa có thôn nào. Thêm thôn: a0sync areas add --commune CODE --name TÊN",
                    "No village yet. Add one: a0sync areas add --commune CODE --name NAME")
    for r in rows:
        indent = "  " if r.level == "area" else ""
        people = ", ".join(f"{c['full_name']} (#{c['id']})" for c in r.collaborators)
        state = "" if r.active else "  [ngừng / retired]"
        click.echo(f"{indent}{r.code:16} {r.name}  {vn(r.households)} hộ/households, "
                   f"{vn(r.persons)} người/persons"
                   + (f", {r.devices} máy/devices" if r.level == "area" else "")
                   + (f"  — {people}" if people else "") + state)


def _went_to(found) -> str:
    old = found.old
    targets = ", ".join(f"{code} {name or '?'}" + (" (một phần / part)" if partly else "")
                        for code, name, partly in found.went_to) or "—"
    return (f"{old.code} {old.full_name} thuộc danh mục cũ {old.tree}; nay là / is now: "
            f"{targets}")


@areas.command("add")
@click.option("--commune", "commune_code", help="Thêm thôn vào xã này / add a village here.")
@click.option("--village", "village_code", help="Thêm địa bàn vào thôn này / add an area here.")
@click.option("--name", required=True, help="Tên / name, e.g. \"Thôn Nà Cạn\".")
@click.option("--code", help="Mã (mặc định: số tiếp theo) / code (default: the next number).")
@with_appcontext
def areas_add(commune_code: str | None, village_code: str | None, name: str,
              code: str | None) -> None:
    """Thêm thôn hoặc địa bàn / add a village (--commune) or an area (--village)."""
    from server.extensions import db
    from server.orgunits.local import add

    if (commune_code is None) == (village_code is None):
        raise click.UsageError("give exactly one of --commune and --village")
    try:
        unit = add(db.session, _scope(), commune_code or village_code or "", name, code=code,
                   by=CLI_ACTOR)
        shown = (unit.code, unit.level, unit.name, unit.id)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"đã thêm / added: {shown[0]} ({shown[1]}, id {shown[3]}) {shown[2]}")


@areas.command("rename")
@click.argument("code")
@click.argument("name")
@with_appcontext
def areas_rename(code: str, name: str) -> None:
    """Đổi tên thôn/địa bàn / rename a village or area."""
    from server.extensions import db
    from server.orgunits.local import rename

    try:
        rename(db.session, _scope(), code, name, by=CLI_ACTOR)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"đã đổi tên / renamed: {code} → {name}")


@areas.command("move")
@click.argument("code")
@click.option("--to", "to_code", required=True,
              help="Xã mới (với thôn) hoặc thôn mới (với địa bàn) / the new commune (a "
                   "village) or village (an area).")
@_workers_option
@with_appcontext
def areas_move(code: str, to_code: str, workers: int) -> None:
    """Chuyển thôn/địa bàn cùng mọi hộ của nó / move a village or area with its households."""
    from server.extensions import db
    from server.orgunits.local import move

    try:
        migration = move(db.session, _scope(), code, to_code, by=CLI_ACTOR)
        shown = (migration.id, migration.summary["rows"])
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    _recompute(workers)
    click.echo(f"đã chuyển / moved: {code} → {to_code} (lần chuyển / migration {shown[0]}; "
               f"hoàn tác / undo: a0sync orgunits migrate --undo {shown[0]})")
    click.echo(json.dumps(shown[1]))


@areas.command("move-households")
@click.argument("from_code", metavar="AREA")
@click.option("--to", "to_code", required=True, help="Địa bàn nhận / the receiving area.")
@_workers_option
@with_appcontext
def areas_move_households(from_code: str, to_code: str, workers: int) -> None:
    """Chuyển mọi hộ của địa bàn sang địa bàn khác / move every household of an area into
    another (before retiring it)."""
    from flask import current_app

    from server.extensions import db
    from server.orgunits.local import move_households
    from server.sync.clock import server_clock

    try:
        moved = move_households(db.session, _scope(), from_code, to_code, by=CLI_ACTOR,
                                hlc=server_clock(current_app).now())
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    _recompute(workers)
    click.echo(f"đã chuyển / moved: {vn(moved)} hộ/households {from_code} → {to_code}")


@areas.command("retire")
@click.argument("code")
@with_appcontext
def areas_retire(code: str) -> None:
    """Ngừng thôn/địa bàn (phải trống) / retire an empty village or area."""
    from server.extensions import db
    from server.orgunits.local import retire

    try:
        retire(db.session, _scope(), code, by=CLI_ACTOR)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"đã ngừng / retired: {code}")


@areas.command("assign")
@click.argument("area_code")
@click.option("--collaborator-id", type=int, help="Cộng tác viên đã có / an existing one.")
@click.option("--collaborator-name", help="Cộng tác viên mới / a new collaborator's name.")
@click.option("--phone", help="Số điện thoại (người mới) / phone (a new collaborator).")
@click.option("--new-person", is_flag=True, help="Người khác trùng tên / someone else with "
              "the same name as a collaborator of the commune.")
@click.option("--revoke-devices", is_flag=True, help="Thu hồi máy đang dùng cho địa bàn cũ / "
              "revoke the collaborator's devices of another area.")
@with_appcontext
def areas_assign(area_code: str, collaborator_id: int | None, collaborator_name: str | None,
                 phone: str | None, new_person: bool, revoke_devices: bool) -> None:
    """Giao địa bàn cho cộng tác viên / make a collaborator responsible for an area."""
    from server.extensions import db
    from server.orgunits.local import assign
    from server.security.enrolment import find_collaborator

    if (collaborator_id is None) == (collaborator_name is None):
        raise click.UsageError("give exactly one of --collaborator-id and --collaborator-name")
    try:
        found = find_collaborator(db.session, collaborator_id, _scope()) \
            if collaborator_id is not None else None
        who = assign(db.session, _scope(), area_code, by=CLI_ACTOR, collaborator=found,
                     name=collaborator_name, phone=phone, new_person=new_person,
                     revoke_devices=revoke_devices)
        shown = (who.id, who.full_name, who.area_code)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"cộng tác viên / collaborator #{shown[0]} {shown[1]}: địa bàn / area {shown[2]}")


# --------------------------------------------------------------- migration


@click.command("migrate")
@click.option("--to", "to_tree", help="Danh mục mới / the new list, e.g. vn-2025-07.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp kế hoạch (CSV và JSON) / the plan file (CSV and JSON).")
@click.option("--apply", "do_apply", is_flag=True, help="Áp dụng kế hoạch / apply the plan.")
@click.option("--undo", "undo_id", type=int, help="Hoàn tác lần chuyển đổi / undo migration ID.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object last.")
@_workers_option
@with_appcontext
def migrate(to_tree: str | None, plan_path: Path | None, do_apply: bool, undo_id: int | None,
            as_json: bool, workers: int) -> None:
    """Chuyển sổ sang danh mục mới, từng thôn một / carry the register to a new list of
    units, village by village: a plan (dry run), then --apply; --undo ID goes back."""
    from server.extensions import db
    from server.orgunits import plan as plans
    from server.orgunits.reform import apply_plan, recompute_rollups, undo

    session = db.session
    if undo_id is not None:
        if to_tree or plan_path or do_apply:
            raise click.UsageError("--undo goes alone")
        try:
            migration = undo(session, undo_id, CLI_ACTOR)
            session.commit()
        except A0Error as error:
            _refuse(error)
        rolled = recompute_rollups(session, migration, workers)
        click.echo(f"đã hoàn tác / undone: {undo_id}; số liệu / roll-ups: {rolled['cells']}")
        return
    if not to_tree or not plan_path:
        raise click.UsageError("give --to and --plan (or --undo ID)")
    plan = None
    try:
        chosen = plans.read_plan_file(plan_path) if plan_path.exists() else None
        if do_apply and chosen is None:
            raise A0Error("plan_file_invalid", file=plan_path.name, detail="không có / missing")
        plan = plans.build_plan(session, to_tree, chosen)
        if not do_apply:
            session.rollback()
            written = plans.write_plan(plan, plan_path)
            _print_plan(plan, written, as_json)
            return
        migration = apply_plan(session, plan, CLI_ACTOR)
        summary = dict(migration.summary, id=migration.id)
        session.commit()
    except A0Error as error:
        if error.code == "plan_incomplete" and plan is not None:
            for row in plan.missing():
                click.echo(f"  {row.label()}: {'|'.join(c.code for c in row.candidates)} "
                           f"({row.reason})", err=True)
        _refuse(error)
    rolled = recompute_rollups(session, migration, workers)
    click.echo(f"đã áp dụng / applied: lần chuyển đổi / migration {summary['id']}: "
               f"{summary['villages']} thôn/villages, {summary['areas']} địa bàn/areas, "
               f"{vn(summary['rows'].get('member', 0))} người/persons; số liệu / roll-ups: "
               f"{rolled['cells']} ô/cells")
    for user in summary["users"]:
        after = user["after"] or "khóa/deactivated"
        click.echo(f"  {user['username']}: {user['before']} → {after}")
    click.echo(f"hoàn tác / undo: a0sync orgunits migrate --undo {summary['id']}")
    if as_json:
        click.echo(json.dumps({"migration": summary["id"], "villages": summary["villages"],
                               "areas": summary["areas"], "rows": summary["rows"],
                               "cells": rolled["cells"]}))


def _print_plan(plan, written: tuple[Path, Path], as_json: bool) -> None:
    from server.orgunits.plan import reasons

    click.echo(f"kế hoạch / plan: {written[0]}, {written[1]} ({len(plan.rows)} dòng/rows)")
    click.echo("tổng theo xã mới / totals per new commune:")
    for t in plan.totals():
        name = f"{t['new_commune']} {t['name']}" if t["new_commune"] else \
            "(chưa chọn / not chosen)"
        click.echo(f"  {name}: {len(t['old_communes'])} xã cũ/old communes, "
                   f"{t['villages']} thôn/villages, {t['areas']} địa bàn/areas, "
                   f"{vn(t['households'])} hộ/households, {vn(t['persons'])} người/persons")
    missing = plan.missing()
    if missing:
        why = ", ".join(f"{k} {n}" for k, n in sorted(reasons(plan).items()))
        click.echo(f"{len(missing)} dòng chưa chọn xã mới / rows without a new commune ({why}):")
        for row in missing[:50]:
            click.echo(f"  {row.label()}: {'|'.join(c.code for c in row.candidates) or '—'}")
        if len(missing) > 50:
            click.echo(f"  … (+{len(missing) - 50})")
    if as_json:
        click.echo(json.dumps({"rows": len(plan.rows), "missing": len(missing),
                               "totals": plan.totals()}, ensure_ascii=False))


@click.command("where")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def where_command(code: str, as_json: bool) -> None:
    """Mã này nay ở đâu (mã cũ cũng được) / where a code is now (a former code too)."""
    from server.extensions import db
    from server.orgunits.lineage import where

    found = where(db.session, code.strip()[:32])
    if found.current is None and found.old is None:
        _refuse(A0Error("orgunit_unknown", record=code[:32]))
    out: dict[str, Any] = {"code": found.code}
    if found.current is not None:
        out["current"] = {"tree": found.current.tree, "level": found.current.level,
                          "name": found.current.full_name,
                          "commune": found.current.commune_code}
    if found.old is not None and found.current is None:
        out["former"] = {"tree": found.old.tree, "level": found.old.level,
                         "name": found.old.full_name}
        out["went_to"] = [{"code": c, "name": n, "partly": p} for c, n, p in found.went_to]
        out["villages"] = [{"code": m.code, "level": m.level, "commune": m.new_commune_code}
                           for m in found.villages]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    if "current" in out:
        c = out["current"]
        click.echo(f"{code}: {c['name']} ({c['level']}, {c['tree']})")
    else:
        click.echo(_went_to(found))
        for m in found.villages:
            click.echo(f"  {m.code} ({m.level}) → {m.new_commune_code}")


@click.command("migrations")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def migrations_list(as_json: bool) -> None:
    """Các lần chuyển đổi / migrations applied and undone, newest first."""
    from sqlalchemy import select

    from server.extensions import db
    from server.formats import stated
    from server.models.orgunits import OrgMigration

    rows = [{"id": m.id, "kind": m.kind, "to_tree": m.to_tree, "status": m.status,
             "applied_at": m.applied_at.isoformat(), "applied_by": m.applied_by,
             "undone_at": m.undone_at.isoformat() if m.undone_at else None,
             "villages": m.summary.get("villages"), "areas": m.summary.get("areas")}
            for m in db.session.scalars(select(OrgMigration).order_by(OrgMigration.id.desc()))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        from server.cli import nothing_yet

        nothing_yet("Chưa có lần chuyển đổi nào.", "No migration yet.")
    for r in rows:
        click.echo(f"{r['id']:4}  {r['kind']:7} {r['to_tree']:12} {r['status']:8} "
                   f"{stated(r['applied_at'])}  {r['applied_by']}")


def register(orgunits: click.Group) -> list[click.Command]:
    """Add the migration commands to ``orgunits``; the ``areas`` group to register."""
    for command in (migrate, where_command, migrations_list):
        orgunits.add_command(command)
    return [areas]

