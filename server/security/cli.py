"""``a0sync keys``: rotate and list the server's keys (registered in server/cli.py)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from server.formats import stated
from server.models.people import ROLES
from server.security.keys import keystore_for


@click.group("keys", help="Khóa của máy chủ / the server's keys.")
def keys() -> None:
    pass


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Make a new key current; older keys still open batches sealed under them."""
    key = keystore_for(current_app).rotate()
    click.echo(f"khóa hiện hành mới / new current key: {key.kid} ({key.created})")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def keys_list(as_json: bool) -> None:
    """Print every key id, when it was created, and which one is current."""
    infos = keystore_for(current_app).list()
    if as_json:
        click.echo(json.dumps([{"kid": i.kid, "created": i.created, "current": i.current}
                               for i in infos]))
        return
    from server.formats import stated

    for info in infos:
        click.echo(f"{info.kid}  {stated(info.created)}  "
                   f"{'current' if info.current else ''}".rstrip())


# ------------------------------------------------------------ enrolment, devices, users
# The command line runs on the server with its operator's rights: actor "cli",
# national scope. Every change it makes is audited like one made on the web.

CLI_ACTOR = "cli"


def cli_scope():
    from server.security.scope import NATIONAL, Scope

    return Scope(CLI_ACTOR, NATIONAL, person_level=True)


def _refuse(error) -> None:
    from server.cli import fail
    from server.extensions import db

    db.session.rollback()
    fail(error)


def _refuse_device(error, device_id: str) -> None:
    """``not_found`` says which device, and where the ids are listed."""
    from a0core.errors import A0Error

    if error.code == "not_found":
        error = A0Error("device_id_unknown", record=device_id[:40])
    _refuse(error)


@click.command("enroll")
@click.option("--area", "area_code", required=True, help="Mã địa bàn / area code.")
@click.option("--collaborator-name", "--collaborator", "collaborator_name",
              help="Họ tên cộng tác viên mới / name of a new collaborator.")
@click.option("--phone", help="Số điện thoại (với cộng tác viên mới) / phone (new collaborator).")
@click.option("--collaborator-id", type=int, help="Cộng tác viên đã có / an existing collaborator.")
@click.option("--ttl-hours", type=click.IntRange(1, 72), default=24, show_default=True,
              help="Hiệu lực của mã / how long the code is valid.")
@click.option("--new-person", is_flag=True,
              help="Người khác trùng tên với một cộng tác viên của xã / someone else with the "
                   "name of a collaborator of the commune.")
@with_appcontext
def enroll(area_code: str, collaborator_name: str | None, phone: str | None,
           collaborator_id: int | None, ttl_hours: int, new_person: bool) -> None:
    """Cấp mã đăng ký máy / issue a one-time device enrolment code."""
    import datetime as dt

    from a0core.errors import A0Error
    from server.extensions import db
    from server.security.enrolment import find_collaborator, issue_code

    if (collaborator_name is None) == (collaborator_id is None):
        raise click.UsageError("give exactly one of --collaborator-name and --collaborator-id")
    if collaborator_id is not None and phone is not None:
        raise click.UsageError("--phone goes with --collaborator-name (a new collaborator)")
    scope = cli_scope()
    try:
        collaborator = (find_collaborator(db.session, collaborator_id, scope)
                        if collaborator_id is not None else None)
        code, row = issue_code(db.session, area_code=area_code, collaborator=collaborator,
                               collaborator_name=collaborator_name, phone=phone,
                               created_by=CLI_ACTOR, scope=scope,
                               ttl=dt.timedelta(hours=ttl_hours), new_person=new_person)
        who = row.collaborator
        summary = (who.id, who.full_name, row.area_code, row.expires_at)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    collaborator_id, name, area, expires = summary
    click.echo(f"mã đăng ký / enrolment code: {code}")
    click.echo(f"hết hạn / expires: {stated(expires)}")
    click.echo(f"cộng tác viên / collaborator: {name} (id {collaborator_id})")
    click.echo(f"địa bàn / area: {area}")


@click.group("devices", help="Máy đã đăng ký / enrolled devices.")
def devices() -> None:
    pass


@devices.command("list")
@click.option("--commune", "commune_code", help="Chỉ một xã / only one commune.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def devices_list(commune_code: str | None, as_json: bool) -> None:
    """Liệt kê máy / list devices, newest first, with the operations that never arrived."""
    from server.extensions import db
    from server.security.enrolment import device_summary, list_devices
    from server.sync.ledger import sequence_states

    if commune_code is not None:
        from server.cli import require_commune

        require_commune(commune_code)
    found = list_devices(db.session, cli_scope(), commune_code=commune_code)
    states = sequence_states(db.session, [d.id for d in found])
    rows = [{**device_summary(d), **states[d.id]} for d in found]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        from server.cli import nothing_yet

        nothing_yet("Chưa có máy nào được đăng ký. Cấp mã đăng ký: "
                    "a0sync enroll --area CODE --collaborator-name NAME",
                    "No device enrolled yet. Issue an enrolment code: "
                    "a0sync enroll --area CODE --collaborator-name NAME")
    for row in rows:
        missing = ", ".join(f"{a}–{b}" for a, b in row["missing"])
        click.echo(f"{row['device_id']}  {row['status']:7}  {row['area_code']:14}  "
                   f"{row['collaborator']['full_name']}  {row['label'] or ''}"
                   f"{'  thiếu/missing ' + missing if missing else ''}".rstrip())


@devices.command("revoke")
@click.argument("device_id")
@with_appcontext
def devices_revoke(device_id: str) -> None:
    """Thu hồi máy ngay lập tức / revoke a device at once."""
    from a0core.errors import A0Error
    from server.extensions import db
    from server.security.enrolment import revoke_device

    try:
        device = revoke_device(db.session, device_id, by=CLI_ACTOR, scope=cli_scope())
        revoked_at = device.revoked_at
        db.session.commit()
    except A0Error as error:
        _refuse_device(error, device_id)
    click.echo(f"đã thu hồi / revoked: {device_id} ({stated(revoked_at)})")


@devices.command("reinstate")
@click.argument("device_id")
@with_appcontext
def devices_reinstate(device_id: str) -> None:
    """Khôi phục máy đã thu hồi / reverse a device's revocation (audited)."""
    from a0core.errors import A0Error
    from server.extensions import db
    from server.security.enrolment import reinstate_device

    try:
        reinstate_device(db.session, device_id, by=CLI_ACTOR, scope=cli_scope())
        db.session.commit()
    except A0Error as error:
        _refuse_device(error, device_id)
    click.echo(f"đã khôi phục / reinstated: {device_id}")


@click.group("users", help="Người dùng web / web users.")
def users() -> None:
    pass


@users.command("create")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(ROLES))
@click.option("--unit", "unit_code", help="Mã đơn vị / org-unit code (none for admin).")
@click.option("--full-name", help="Họ tên / full name (default: the username).")
@click.option("--person-access", is_flag=True,
              help="Được xem dữ liệu cá nhân / may read person-level records.")
@click.option("--group", "group_code",
              help="Cán bộ tỉnh chỉ phụ trách một huyện cũ / province staff limited to a former "
                   "district (its code), after the 2025 reform.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(username: str, role: str, unit_code: str | None, full_name: str | None,
                 person_access: bool, group_code: str | None, password_stdin: bool) -> None:
    """Tạo người dùng / create a web user (asks the password twice, hidden)."""
    import sys

    from a0core.errors import A0Error
    from server.extensions import db
    from server.security.users import check_new_user, create_user

    try:  # everything but the password, before asking for it
        check_new_user(db.session, username, full_name or username, role, unit_code,
                       group_code)
    except A0Error as error:
        _refuse(error)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mật khẩu / password", hide_input=True,
                                confirmation_prompt="Nhập lại / repeat")
    try:
        user = create_user(db.session, username, full_name or username, password, role,
                           unit_code, person_access, created_by=CLI_ACTOR,
                           group_code=group_code)
        summary = (user.id, user.username)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"đã tạo / created: {summary[1]} (id {summary[0]}, {role}"
               f"{', ' + unit_code if unit_code else ''})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def users_list(as_json: bool) -> None:
    """Liệt kê người dùng / list web users (no secrets)."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models.people import User

    rows = [{"username": u.username, "full_name": u.full_name, "role": u.role,
             "org_unit": u.org_unit.code if u.org_unit else None,
             "group": u.group.code if u.group else None, "active": u.active,
             "totp": bool(u.totp_secret), "person_access": bool(u.person_access)}
            for u in db.session.scalars(select(User).order_by(User.username))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        from server.cli import nothing_yet

        nothing_yet("Chưa có người dùng nào. Tạo quản trị viên đầu tiên: "
                    "a0sync users create USERNAME --role admin",
                    "No web user yet. Create the first administrator: "
                    "a0sync users create USERNAME --role admin")
    for row in rows:
        click.echo(f"{row['username']:20} {row['role']:15} {row['org_unit'] or '-':8} "
                   f"{'active' if row['active'] else 'inactive'}"
                   f"{'  totp' if row['totp'] else ''}"
                   f"{'  person-access' if row['person_access'] else ''}"
                   + (f"  huyện cũ/former district {row['group']}" if row["group"] else ""))


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--reset-totp", is_flag=True,
              help="Tắt xác thực hai bước (mất điện thoại) / clear TOTP (lost phone).")
@with_appcontext
def users_set_password(username: str, password_stdin: bool, reset_totp: bool) -> None:
    """Đặt lại mật khẩu / reset a user's password (and optionally TOTP); audited."""
    import sys

    from a0core.errors import A0Error
    from server.extensions import db
    from server.security.login import reset_throttle
    from server.security.users import find_user, set_password
    from server.security.users import reset_totp as reset_totp_of

    user = find_user(db.session, username)
    if user is None:
        _refuse(A0Error("user_unknown", record=username[:80]))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mật khẩu / password", hide_input=True,
                                confirmation_prompt="Nhập lại / repeat")
    try:
        set_password(db.session, user, password, by=CLI_ACTOR)
        if reset_totp and user.totp_secret:
            reset_totp_of(db.session, user, by=CLI_ACTOR)
        reset_throttle(db.session, user, CLI_ACTOR)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"đã đặt lại / reset: {user.username}")

@users.command("deactivate")
@click.argument("username")
@with_appcontext
def users_deactivate(username: str) -> None:
    """Khóa tài khoản / deactivate a user: sessions and API tokens stop at once; audited."""
    _set_active(username, False)


@users.command("activate")
@click.argument("username")
@with_appcontext
def users_activate(username: str) -> None:
    """Mở lại tài khoản / activate a user again; audited."""
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    from a0core.errors import A0Error
    from server.extensions import db
    from server.security.users import find_user, set_active

    user = find_user(db.session, username)
    if user is None:
        _refuse(A0Error("user_unknown", record=username[:80]))
    set_active(db.session, user, active, by=CLI_ACTOR)
    db.session.commit()
    click.echo(f"{'đã mở / activated' if active else 'đã khóa / deactivated'}: {username}")


from server.security.token_cli import token as _token_commands  # noqa: E402

users.add_command(_token_commands)
