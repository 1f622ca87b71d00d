"""The OpenAPI 3.1 document of every ``/api/`` endpoint, built from specs beside the views.

Each view under ``/api/`` carries a small spec, written next to it with
:func:`api_doc`; :func:`build_document` walks ``app.url_map`` and assembles
them, so the document always describes the routes that exist.
:func:`undocumented` lists ``/api/`` routes without a spec — a test fails on
any, so an endpoint added later documents itself or the build goes red.

Message bodies reuse the protocol's JSON Schemas in ``schemas/protocol/``
(OpenAPI 3.1 schemas are JSON Schema 2020-12), and every refusal is the one
error shape of :mod:`server.web.errors` with its codes listed per status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify

from a0core.errors import catalogue
from a0core.schemas import schemas_dir

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__api_doc__"
API_PREFIX = "/api/"
TITLE = "a0sync API"
VERSION = "1"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerToken": {
        "type": "http", "scheme": "bearer",
        "description": "API token of a web user (`a0sync users token create`); "
                       "acts with the user's role and org unit."},
    "deviceSignature": {
        "type": "apiKey", "in": "header", "name": "X-A0-Signature",
        "description": "Ed25519 signature of an enrolled device over method, target and "
                       "body, with the device id in `X-A0-Device` (docs/protocol.md)."},
    "sessionCookie": {
        "type": "apiKey", "in": "cookie", "name": "a0sync_session",
        "description": "A logged-in web user's session (the dashboard)."},
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message_vi", "message_en"],
        "properties": {
            "code": {"type": "string", "description": "Stable machine code "
                     "(schemas/protocol/errors.json)."},
            "message_vi": {"type": "string"},
            "message_en": {"type": "string"},
            "field": {"type": "string"},
            "record": {"type": "string"},
            "file": {"type": "string"},
        },
    }},
}

STATUS_TEXT = {200: "OK", 201: "Created", 400: "Bad request", 401: "Not authenticated",
               403: "Forbidden", 404: "Not found", 409: "Conflict", 410: "Gone",
               413: "Too large", 500: "Unexpected failure", 503: "Come back later"}
# any operation: a bug (server.web.errors), the database away or busy (server.web.outage)
UNEXPECTED = {500: ("internal_error",), 503: ("database_unavailable", "server_busy")}


def query(name: str, description: str, schema: Mapping[str, Any] | None = None,
          required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": dict(schema or {"type": "string"})}


def protocol_ref(name: str) -> dict[str, str]:
    """A reference to ``schemas/protocol/<name>.json`` in the document's components."""
    return {"$ref": f"#/components/schemas/{_component_name(name)}"}


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    params: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None          # JSON Schema of an application/json body
    responses: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    errors: dict[int, tuple[str, ...]] = field(default_factory=dict)
    security: tuple[str, ...] = ()

    def operation(self, endpoint: str, path_args: Iterable[str]) -> dict[str, Any]:
        op: dict[str, Any] = {"operationId": endpoint.replace(".", "_"),
                              "summary": self.summary, "tags": list(self.tags)}
        if self.description:
            op["description"] = self.description
        params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                  for a in path_args if not any(p["name"] == a for p in self.params)]
        params += [dict(p) for p in self.params]
        if params:
            op["parameters"] = params
        if self.body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": self.body}}}
        responses: dict[str, Any] = {}
        for status, (text, schema) in sorted(self.responses.items()):
            entry: dict[str, Any] = {"description": text}
            if schema is not None:
                entry["content"] = {"application/json": {"schema": schema}}
            responses[str(status)] = entry
        for status, codes in sorted({**self.errors, **UNEXPECTED}.items()):
            responses[str(status)] = {
                "description": f"{STATUS_TEXT.get(status, 'Refused')}: "
                               + ", ".join(f"`{c}`" for c in codes),
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Error"}}},
                "x-error-codes": list(codes)}
        op["responses"] = responses
        op["security"] = [{name: []} for name in self.security] if self.security else []
        return op


def api_doc(summary: str, *, description: str = "", tags: Iterable[str] = (),
            params: Iterable[dict[str, Any]] = (), body: dict[str, Any] | None = None,
            responses: Mapping[int, tuple[str, dict[str, Any] | None]] | None = None,
            errors: Mapping[int, Iterable[str]] | None = None,
            security: Iterable[str] = ()) -> Callable[[F], F]:
    """Attach the OpenAPI description of one view (put it above the route decorator's view)."""
    spec = ApiDoc(summary, description, tuple(tags), tuple(params), body,
                  dict(responses or {200: ("OK", None)}),
                  {k: tuple(v) for k, v in (errors or {}).items()}, tuple(security))
    for scheme in spec.security:
        if scheme not in SECURITY_SCHEMES:
            raise KeyError(f"unknown security scheme {scheme!r}")
    unknown = [c for codes in spec.errors.values() for c in codes if c not in catalogue()]
    if unknown:  # a spec names only codes a client can look up
        raise KeyError(f"error codes not in schemas/protocol/errors.json: {unknown}")

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, spec)
        return view

    return mark


# ------------------------------------------------------------------ the document

_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


def _api_rules(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.rule.startswith(API_PREFIX):
            yield rule


def undocumented(app: Flask) -> list[str]:
    """``/api/`` routes whose view has no :func:`api_doc` spec."""
    return [f"{sorted(r.methods - {'HEAD', 'OPTIONS'})} {r.rule} ({r.endpoint})"
            for r in _api_rules(app)
            if getattr(app.view_functions[r.endpoint], ATTRIBUTE, None) is None]


def _component_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[_.]", name))


@cache
def _protocol_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((schemas_dir() / "protocol").glob("*.v*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc.pop("$schema", None)
        doc.pop("$id", None)
        out[_component_name(path.name.removesuffix(".json"))] = doc
    return out


def build_document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in _api_rules(app):
        spec: ApiDoc | None = getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None)
        if spec is None:
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = spec.operation(
                rule.endpoint, sorted(rule.arguments))
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION,
                 "description": "Đồng bộ sổ A0 và dữ liệu cho tuyến huyện/tỉnh. "
                                "Sync of the A0 register and data for district and province "
                                "systems (docs/protocol.md, docs/district-api.md). Every "
                                "refusal is `{\"error\": {code, message_vi, message_en}}` "
                                "with a code from schemas/protocol/errors.json."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA, **_protocol_schemas()},
                       "securitySchemes": SECURITY_SCHEMES},
    }


bp = Blueprint("api_openapi", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
@api_doc("Tài liệu OpenAPI / this OpenAPI document", tags=["meta"],
         responses={200: ("The OpenAPI 3.1 document of every /api/ endpoint",
                          {"type": "object"})})
def openapi_json():
    return jsonify(build_document(current_app))
