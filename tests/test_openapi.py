"""The OpenAPI document describes every /api/ endpoint and is a valid OpenAPI 3.1 document."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from openapi_spec_validator import validate

from a0core.errors import catalogue
from server.web.openapi import api_doc, build_document, undocumented


@pytest.fixture
def doc(sqlite_app: Flask) -> dict:
    resp = sqlite_app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def test_every_api_route_has_a_spec(sqlite_app: Flask) -> None:
    """Walks app.url_map: a route added under /api/ without @api_doc fails here."""
    api_rules = [r for r in sqlite_app.url_map.iter_rules() if r.rule.startswith("/api/")]
    assert len(api_rules) >= 13  # sync, devices, district, the document itself
    assert undocumented(sqlite_app) == []


def test_document_is_valid_openapi_31_and_lists_every_route(sqlite_app: Flask,
                                                           doc: dict) -> None:
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    listed = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in sqlite_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z_]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in listed, (path, method)
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    # every error code the document promises exists with both languages
    for ops in doc["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for code in response.get("x-error-codes", []):
                    assert catalogue()[code]["vi"] and catalogue()[code]["en"]
    district = doc["paths"]["/api/v1/district/members"]["get"]
    assert district["security"] == [{"bearerToken": []}]
    assert {p["name"] for p in district["parameters"]} == {"cursor", "limit", "unit"}
    assert "person_access_required" in district["responses"]["403"]["x-error-codes"]
    revoke = doc["paths"]["/api/v1/devices/{device_id}/revoke"]["post"]
    assert [p["name"] for p in revoke["parameters"] if p["in"] == "path"] == ["device_id"]
    assert doc["paths"]["/api/v1/sync/batches"]["post"]["requestBody"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/EnvelopeV1"}
    assert "EnvelopeV1" in doc["components"]["schemas"]


def test_a_new_undocumented_route_is_caught(sqlite_app: Flask) -> None:
    app = Flask("probe")
    app.add_url_rule("/api/v2/thing/<int:thing_id>", "thing", lambda thing_id: "x")
    app.add_url_rule("/not-api", "other", lambda: "x")
    assert undocumented(app) == ["['GET'] /api/v2/thing/<int:thing_id> (thing)"]
    documented = api_doc("Một thứ / a thing", errors={404: ["not_found"]})(lambda thing_id: "")
    app.view_functions["thing"] = documented
    assert undocumented(app) == []
    with app.app_context():
        built = build_document(app)
    validate(built)
    assert list(built["paths"]) == ["/api/v2/thing/{thing_id}"]
    with pytest.raises(KeyError):
        api_doc("x", errors={400: ["no_such_code"]})
