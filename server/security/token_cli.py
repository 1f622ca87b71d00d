"""``a0sync users token create|revoke|list``: API tokens for district systems.

The token is printed once, on creation; only its hash is kept, so a lost token
is revoked and a new one made.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from a0core.errors import A0Error
from server.formats import stated

CLI_ACTOR = "cli"


@click.group("token", help="Mã truy cập API cho hệ thống tuyến huyện/tỉnh / API tokens.")
def token() -> None:
    pass


def _refuse(error: A0Error) -> None:
    from server.cli import fail
    from server.extensions import db

    db.session.rollback()
    fail(error)


@token.command("create")
@click.argument("username")
@click.option("--label", required=True, help="Dùng cho hệ thống nào / what the token is for.")
@with_appcontext
def token_create(username: str, label: str) -> None:
    """Tạo mã truy cập (in ra một lần duy nhất) / create a token, printed once."""
    from server.extensions import db
    from server.security.api_tokens import create_token

    try:
        secret, row = create_token(db.session, username, label, created_by=CLI_ACTOR)
        summary = (row.id, row.user.username, row.label)
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"mã truy cập / token (id {summary[0]}, {summary[1]}, \"{summary[2]}\"):")
    click.echo(secret)
    click.echo("Lưu lại ngay: mã không được hiển thị lại. / Keep it now: it is not shown again.",
               err=True)


@token.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Thu hồi mã truy cập ngay lập tức / revoke a token at once."""
    from server.extensions import db
    from server.security.api_tokens import revoke_token

    try:
        row = revoke_token(db.session, token_id, by=CLI_ACTOR)
        revoked_at = row.revoked_at
        db.session.commit()
    except A0Error as error:
        _refuse(error)
    click.echo(f"đã thu hồi / revoked: token {token_id} ({stated(revoked_at)})")


@token.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def token_list(username: str | None, as_json: bool) -> None:
    """Liệt kê mã truy cập (không in mã) / list tokens (never the token itself)."""
    from server.extensions import db
    from server.security.api_tokens import list_tokens, token_summary

    try:
        rows = [token_summary(r) for r in list_tokens(db.session, username)]
    except A0Error as error:
        _refuse(error)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        from server.cli import nothing_yet

        nothing_yet("Chưa có mã truy cập API nào. Tạo mã: "
                    "a0sync users token create USERNAME --label NHÃN",
                    "No API token yet. Create one: "
                    "a0sync users token create USERNAME --label LABEL")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['status']:7}  {r['username']:20}  {r['hint']}…  "
                   f"{r['label']}  lần dùng cuối / last used "
                   f"{stated(r['last_used_at']) if r['last_used_at'] else '-'}")
