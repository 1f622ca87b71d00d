"""Every page a person can open, found in the app's url_map (so pages added later are
walked too), with ids from the demo's data: the demo test and the browser walk
(390 px and 1366 px, both languages) visit them all.

A page is a GET route of a ``dashboard*`` blueprint, of the login blueprint or the
landing page, answering HTML; downloads (``.xlsx``), the language switch and
static files are not pages. A new route with a path argument this module has no
value for fails the walk with a message saying where to add one.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, url_for
from sqlalchemy import select

from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.sync import SyncBatch

BLUEPRINTS = ("dashboard", "auth", "health")
NOT_PAGES = {"auth.set_language", "auth.logout", "auth.login_totp", "dashboard.static",
             "health.healthz"}
LOGGED_OUT = ("health.landing", "auth.login")  # seen before logging in
DEMO_COMMUNE = "12619"


@dataclass(frozen=True)
class Page:
    endpoint: str
    path: str


def demo_values() -> dict[str, str]:
    """A real value for each path argument, from the demo's data: the batch carried in
    as a file and its device, an open duplicate pair, the demo commune."""
    carried = db.session.scalars(select(SyncBatch).where(SyncBatch.carrier == "file")).first()
    pair = db.session.scalar(select(DuplicateCandidate.id).where(
        DuplicateCandidate.status == "open").order_by(DuplicateCandidate.id))
    assert carried is not None and pair is not None, "the demo has a carried batch and a pair"
    return {"device_id": carried.device_id, "batch_id": carried.id,
            "candidate_id": str(pair), "unit_code": DEMO_COMMUNE, "commune": DEMO_COMMUNE}


def pages(app: Flask, values: dict[str, str]) -> list[Page]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        blueprint = rule.endpoint.split(".")[0]
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES \
                or not blueprint.startswith(BLUEPRINTS) or "." in rule.rule.rsplit("/", 1)[-1]:
            continue
        missing = [name for name in rule.arguments if name not in values]
        assert not missing, (f"{rule.rule}: no value for {missing}; add one to "
                             "tests/support/pages.demo_values (from the demo's data)")
        with app.test_request_context():
            found.append(Page(rule.endpoint, url_for(rule.endpoint, **{
                name: values[name] for name in rule.arguments})))
    return found
