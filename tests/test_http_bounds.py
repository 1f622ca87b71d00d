"""Every id and cursor is bounded and validated (issue 18, item 5): out-of-range values
in every route's path, query and form get a 404 or a coded 400, never a 500, on SQLite
and PostgreSQL. Routes come from the url_map, so routes added later are walked too."""

from __future__ import annotations

import re

from flask import Flask

from a0core.envelope import sign_request
from tests.support.routes import admin_client, route_values, rules, url
from tests.support.web import AREAS

HUGE = ("2147483648", "9223372036854775808", "9" * 5000)
ODD = ("-5", "²", "\x00")  # "²".isdigit() is true, int("²") fails
NUMBERS = ("cursor", "limit", "page", "per_page")  # one at a time: each may hide another
QUERY = (*NUMBERS, "month", "commune", "unit", "level", "status", "kind", "gaps", "next",
         "kid")
FORM = ("collaborator_id", "area_code", "collaborator_name", "phone", "choice", "other",
        "survivor", "version", "label", "username", "password", "code")
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _coded(response, where) -> None:
    response.get_data()  # a streamed export runs to its end
    response.close()
    assert response.status_code < 500, where
    if response.status_code >= 400 and where[1].startswith("/api/"):
        assert response.get_json()["error"]["code"], where


def test_out_of_range_values_never_reach_a_500(app: Flask) -> None:
    values = route_values(app)
    admin = admin_client(app)
    token = _TOKEN.search(admin.get("/dashboard/").get_data(as_text=True)).group(1)
    for rule in rules(app):
        methods = sorted(rule.methods & {"GET", "POST"})
        plain = url(app, rule, values)
        paths = [url(app, rule, values, **{name: bad}) for name in rule.arguments
                 for bad in (*HUGE, *ODD)]
        queries = [dict.fromkeys(QUERY, bad) for bad in (*HUGE, *ODD)] + [
            {name: bad} for name in NUMBERS for bad in HUGE[:2]]
        for method in methods:
            for path in paths:
                _coded(admin.open(path, method=method, data={"csrf_token": token}),
                       (method, path))
            for query in queries:
                _coded(admin.open(plain, method=method, query_string=query,
                                  data={"csrf_token": token}), (method, plain, query))
        if "POST" in methods and not plain.startswith("/api/"):
            for bad in (*HUGE, *ODD):
                form = {"csrf_token": token, **dict.fromkeys(FORM, bad)}
                _coded(admin.post(plain, data=form), ("POST", plain, bad))
                form.update(area_code=AREAS["C"], collaborator_id=bad)
                _coded(admin.post(plain, data=form), ("POST", plain, bad))


def test_a_signed_pull_with_a_bad_cursor_is_refused_with_a_code(app: Flask, device) -> None:
    client = app.test_client()

    def pull(query: str):
        path = f"/api/v1/sync/pull?{query}&kid={device.server_key.kid}"
        return client.get(path, headers=sign_request("GET", path, b"", device.keys,
                                                     device_id=device.id))

    for cursor in ("9223372036854775808", "-5", "abc", "1.5", "9" * 400):
        refused = pull(f"cursor={cursor}")
        assert refused.status_code == 400, cursor
        assert refused.get_json()["error"]["code"] == "cursor_invalid", cursor
    for limit in ("0", "-1", "x", "5001", "99999999999999999999"):
        refused = pull(f"cursor=0&limit={limit}")
        assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "limit"
    for form in ("", "PACKED", "stamps"):
        refused = pull(f"cursor=0&clocks={form}")
        assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "clocks"
    assert pull("cursor=9223372036854775807").status_code == 200
    assert pull("cursor=0&limit=5000&clocks=packed").status_code == 200
