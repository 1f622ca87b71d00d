"""Issue 18, item 4: person-level pages are audited with their row counts, the landing
page shows nothing without a session, and every response carries the security
headers (also ``/``, 404s and exports; HSTS when asked for)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from server.extensions import db
from server.models.people import AuditLog
from tests.conftest import make_app
from tests.support.duplicates_web import register_twice
from tests.support.web import Browser, build_world


def last_audit(action: str) -> AuditLog:
    db.session.expire_all()
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                              .order_by(AuditLog.id.desc())).first()


def test_person_level_pages_are_audited_with_what_they_showed(app: Flask) -> None:
    world = build_world(app)
    twice = register_twice(app, world.devices["C"])
    browser = Browser(app)
    browser.login("canboxa")
    page = browser.get("/dashboard/conflicts").get_data(as_text=True)
    assert f'id="conflict-{world.conflicts["C"]}"' in page
    seen = last_audit("conflicts.view")
    assert (seen.actor_id, seen.row_count, seen.commune_code) == ("canboxa", 1, "00001")
    assert len(seen.details["records"]) == 1

    assert browser.get("/dashboard/duplicates?kind=member").status_code == 200
    listed = last_audit("duplicates.view")
    assert set(twice.members) <= set(listed.details["records"])
    assert listed.row_count == len(listed.details["records"])
    assert browser.get(f"/dashboard/duplicates/{twice.member_pair}").status_code == 200
    pair = last_audit("duplicate.view")
    assert pair.row_count == 2 and set(pair.details["records"]) == set(twice.members)

    before = last_audit("conflicts.view").id
    assert browser.client.head("/dashboard/conflicts").status_code == 200
    assert last_audit("conflicts.view").id == before  # HEAD shows nothing, logs nothing


def test_landing_page_shows_only_the_login(app: Flask) -> None:
    world = build_world(app)
    anonymous = app.test_client().get("/")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].endswith("/login")
    login_page = app.test_client().get("/", follow_redirects=True).get_data(as_text=True)
    assert 'name="password"' in login_page
    for name in world.names.values():
        assert name not in login_page
    browser = Browser(app)
    browser.login("canboxa")
    assert browser.get("/").headers["Location"].endswith("/dashboard/")


def test_security_headers_on_every_response(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    for path in ("/", "/login", "/healthz", "/no/such/page", "/api/v1/no-such",
                 "/api/v1/exports/persons.csv", "/api/v1/openapi.json",
                 "/dashboard/devices/00000000-0000-0000-0000-000000000000"):
        response = client.get(path)
        headers = response.headers
        assert headers["Cache-Control"] == "no-store", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "Strict-Transport-Security" not in headers, path
    missing = client.get("/api/v1/no-such")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"

    behind_tls = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "tls",
                          A0SYNC_HSTS=True)
    for path in ("/", "/healthz", "/no/such/page"):
        hsts = behind_tls.test_client().get(path).headers["Strict-Transport-Security"]
        assert hsts.startswith("max-age=31536000"), path
    with behind_tls.app_context():
        db.session.remove()
        db.engine.dispose()
