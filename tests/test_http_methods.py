"""Only GET and POST exist, and only POST writes (issue 18, item 3).

Every route of the url_map gets HEAD, PUT, DELETE, PATCH and OPTIONS, with a body
that would log in, make a token, enrol, resolve or merge if a view took it for a
POST, from nobody and from a logged-in administrator. Nothing in the database may
change; a method a route does not take is 405, with a JSON code on the API.
"""

from __future__ import annotations

from flask import Flask

from tests.support.routes import admin_client, route_values, rules, snapshot, url
from tests.support.web import AREAS, PASSWORD

METHODS = ("HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")
FORM = {"username": "quantri", "password": PASSWORD, "label": "thử HEAD",
        "area_code": AREAS["C"], "collaborator_name": "Người Lạ", "code": "123456",
        "choice": "a", "other": "x", "survivor": "", "next": "/dashboard/"}


def test_no_method_but_post_changes_anything(app: Flask) -> None:
    values = route_values(app)
    clients = {"anonymous": app.test_client(), "admin": admin_client(app)}
    before = dict(snapshot())
    walked = 0
    for rule in rules(app):
        assert rule.methods <= {"GET", "HEAD", "POST", "OPTIONS"}, rule.rule
        path = url(app, rule, values)
        for who, client in clients.items():
            for method in METHODS:
                body = {"json": {k: FORM[k] for k in ("area_code", "collaborator_name")}} \
                    if path.startswith("/api/") else {"data": FORM}
                response = client.open(path, method=method, **body)
                where = (who, method, path, response.status_code)
                assert response.status_code < 500, where
                if method not in rule.methods:
                    assert response.status_code == 405, where
                    assert set(response.headers["Allow"].split(", ")) == rule.methods, where
                    if path.startswith("/api/") and method != "HEAD":  # HEAD: no body
                        assert response.get_json()["error"]["code"] == "method_not_allowed"
                walked += 1
        after = dict(snapshot())
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, (rule.rule, changed)
    assert walked >= 40 * len(METHODS) * len(clients)
