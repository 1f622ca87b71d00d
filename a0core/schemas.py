"""Load the versioned definitions in ``schemas/`` (forms, code lists, mappings).

``schemas/`` is the one source of truth for forms and code lists (DESIGN §2): the
server builds its marshmallow schemas from these files and the app renders its
forms from them. This module only reads and indexes them; it never hard-codes one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS_ENV = "A0SYNC_SCHEMAS"


def schemas_dir() -> Path:
    """The schemas folder: ``$A0SYNC_SCHEMAS`` or the one beside this package."""
    configured = os.environ.get(SCHEMAS_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "schemas"


class SchemaDefinitionError(ValueError):
    """A file in schemas/ is itself wrong: a bug in the definitions, not in input."""


@dataclass(frozen=True)
class Code:
    code: str
    vi: str
    en: str
    attrs: dict[str, Any] = field(default_factory=dict)
    retired: bool = False


@dataclass(frozen=True)
class CodeList:
    id: str
    version: int
    title: dict[str, str]
    codes: tuple[Code, ...]

    def get(self, code: str) -> Code | None:
        return self._index().get(code)

    def active_codes(self) -> list[Code]:
        return [c for c in self.codes if not c.retired]

    def _index(self) -> dict[str, Code]:
        # frozen dataclass: cache the index on first use
        index = self.__dict__.get("_idx")
        if index is None:
            index = {c.code: c for c in self.codes}
            object.__setattr__(self, "_idx", index)
        return index


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: dict[str, str]
    required: bool = False
    codelist: str | None = None
    entity: str | None = None  # for "ref" fields: household | member | event
    relevant: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # min, max, max_length, pattern...


@dataclass(frozen=True)
class FormDef:
    id: str
    version: int
    kind: str  # entity | event | distribution
    title: dict[str, str]
    fields: tuple[FieldDef, ...]
    raw: dict[str, Any]

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)


FIELD_TYPES = {
    "string", "text", "integer", "number", "boolean", "date", "partial_date",
    "uuid", "ref", "code", "orgunit", "month",
}
FORM_KINDS = {"entity", "event", "distribution"}
FORM_RULES = {"one_of_required", "different", "not_before"}
_FIELD_KEYS = {"name", "type", "label", "required", "codelist", "entity", "relevant", "help"}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaDefinitionError(f"{path}: {exc}") from exc


def _parse_field(path: Path, raw: dict[str, Any], fragments: dict[str, list]) -> list[FieldDef]:
    if "include" in raw:
        name = raw["include"]
        if name not in fragments:
            raise SchemaDefinitionError(f"{path}: unknown fragment {name!r}")
        return [f for item in fragments[name] for f in _parse_field(path, item, fragments)]
    ftype = raw.get("type")
    if ftype not in FIELD_TYPES:
        raise SchemaDefinitionError(f"{path}: field {raw.get('name')!r} has unknown type {ftype!r}")
    if ftype == "code" and not raw.get("codelist"):
        raise SchemaDefinitionError(f"{path}: code field {raw['name']!r} names no codelist")
    label = raw.get("label") or {}
    if not (label.get("vi") and label.get("en")):
        raise SchemaDefinitionError(f"{path}: field {raw['name']!r} needs vi and en labels")
    return [FieldDef(
        name=raw["name"], type=ftype, label=label, required=bool(raw.get("required")),
        codelist=raw.get("codelist"), entity=raw.get("entity"), relevant=raw.get("relevant"),
        options={k: v for k, v in raw.items() if k not in _FIELD_KEYS},
    )]


@dataclass(frozen=True)
class Registry:
    """Every form version and code list under one schemas folder."""

    root: Path
    forms: dict[tuple[str, int], FormDef]
    codelists: dict[str, CodeList]
    mappings: dict[str, Any]

    def form(self, form_id: str, version: int | None = None) -> FormDef | None:
        if version is None:
            version = self.latest_version(form_id)
        return self.forms.get((form_id, version)) if version is not None else None

    def latest_version(self, form_id: str) -> int | None:
        versions = [v for (fid, v) in self.forms if fid == form_id]
        return max(versions) if versions else None

    def latest_forms(self) -> list[FormDef]:
        ids = sorted({fid for fid, _ in self.forms})
        return [self.forms[(fid, self.latest_version(fid))] for fid in ids]  # type: ignore[index]

    def codelist(self, list_id: str) -> CodeList:
        return self.codelists[list_id]

    def official_code(self, list_id: str, code: str, on: str | None = None) -> str | None:
        """Official code of an internal code, from the mapping valid on date ``on``."""
        for table in self.mappings.get("tables", []):
            if table["codelist"] != list_id:
                continue
            if on and (on < table.get("valid_from", "") or on > table.get("valid_to", "9999")):
                continue
            if code in table["map"]:
                return table["map"][code]
        return None


def load_registry(root: Path | None = None) -> Registry:
    root = root or schemas_dir()
    codelists: dict[str, CodeList] = {}
    for path in sorted((root / "codelists").glob("*.json")):
        raw = _read_json(path)
        codes = tuple(
            Code(code=c["code"], vi=c["vi"], en=c["en"], retired=bool(c.get("retired")),
                 attrs={k: v for k, v in c.items() if k not in {"code", "vi", "en", "retired"}})
            for c in raw["codes"]
        )
        if len({c.code for c in codes}) != len(codes):
            raise SchemaDefinitionError(f"{path}: duplicate code")
        codelists[raw["id"]] = CodeList(raw["id"], int(raw["version"]), raw["title"], codes)

    fragments = {p.stem: _read_json(p)["fields"] for p in sorted((root / "fragments").glob("*.json"))}
    forms: dict[tuple[str, int], FormDef] = {}
    for path in sorted((root / "forms").glob("*/v*.json")):
        raw = _read_json(path)
        if raw.get("kind") not in FORM_KINDS:
            raise SchemaDefinitionError(f"{path}: unknown kind {raw.get('kind')!r}")
        if raw["id"] != path.parent.name or f"v{raw['version']}" != path.stem:
            raise SchemaDefinitionError(f"{path}: id/version do not match the file's place")
        fields = tuple(f for item in raw["fields"] for f in _parse_field(path, item, fragments))
        for f in fields:
            if f.codelist and f.codelist not in codelists:
                raise SchemaDefinitionError(f"{path}: field {f.name!r} uses unknown codelist")
        names = [f.name for f in fields]
        for rule in raw.get("rules", []):
            if rule.get("rule") not in FORM_RULES or not set(rule.get("fields", [])) <= set(names):
                raise SchemaDefinitionError(f"{path}: bad rule {rule!r}")
        if len(set(names)) != len(names):
            raise SchemaDefinitionError(f"{path}: a field name is repeated")
        forms[(raw["id"], int(raw["version"]))] = FormDef(
            raw["id"], int(raw["version"]), raw["kind"], raw["title"], fields, raw)

    mapping_path = root / "mappings" / "official_codes.json"
    mappings = _read_json(mapping_path) if mapping_path.exists() else {}
    return Registry(root, forms, codelists, mappings)


@cache
def registry() -> Registry:
    """The registry of the configured schemas folder, loaded once per process."""
    return load_registry()
