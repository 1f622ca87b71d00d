"""``a0sync keys``: rotate and list the server's keys (registered in server/cli.py)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

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
    for info in infos:
        click.echo(f"{info.kid}  {info.created}  {'current' if info.current else ''}".rstrip())
