"""Every route of the app, found in its url_map (so routes added later are covered), with
real argument values from a small world: the method and bounds tests walk them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Flask, url_for
from sqlalchemy import select

from server.extensions import db
from server.models import Base
from server.security.api_tokens import create_token
from tests.support.duplicates_web import register_twice
from tests.support.web import build_world, log_in


def route_values(app: Flask) -> dict[str, Any]:
    """The dashboard world, a duplicate pair and an API token: a real value for every
    route argument name in use (unknown names get ``"1"``)."""
    world = build_world(app)
    twice = register_twice(app, world.devices["C"])
    _secret, token = create_token(db.session, "quantri", "thử", created_by="test")
    db.session.commit()
    return {"device_id": world.devices["C"].id, "batch_id": world.batches["C"],
            "conflict_id": world.conflicts["C"], "candidate_id": twice.member_pair,
            "token_id": token.id, "unit_code": "00001", "kind": "persons", "fmt": "csv",
            "code": "en", "filename": "a0.css"}


def rules(app: Flask) -> list[Any]:
    return sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)


def url(app: Flask, rule: Any, values: dict[str, Any], **override: str) -> str:
    """The rule's path with real values, or with ``override`` written into the path as
    it stands (percent-encoded), whatever the route's converter would accept."""
    marks = {name: str(4242420 + n) for n, name in enumerate(override)}
    args = {name: marks.get(name, values.get(name, "1")) for name in rule.arguments}
    with app.test_request_context():
        path = url_for(rule.endpoint, **args)
    for name, mark in marks.items():
        path = path.replace(mark, quote(override[name], safe=""))
    return path


def admin_client(app: Flask):
    from server.models.people import User

    client = app.test_client()
    log_in(client, db.session.scalars(select(User).where(User.username == "quantri")).one())
    return client


def snapshot() -> Iterator[tuple[str, str]]:
    """Every row of every table, as text: equal snapshots mean nothing changed."""
    db.session.expire_all()
    for table in Base.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        yield table.name, repr(db.session.execute(select(table).order_by(*order)).all())
