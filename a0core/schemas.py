"""Load the versioned definitions in ``schemas/`` (forms, code lists, mappings).

``schemas/`` is the one source of truth for forms and code lists (DESIGN §2): the
server builds its marshmallow schemas from these files and the app renders its
forms from them. This module only reads and indexes them; it never hard-codes one.
"""

from __future__ import annotations

import json
import os
import re
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
    help: dict[str, str] = field(default_factory=dict)  # shown under the field in the app

    def allows_code(self, code: Code) -> bool:
        """Whether a code field accepts ``code`` under its attribute filters.

        ``codes_with`` {attr: value}: the code must carry every one of these values;
        ``codes_without`` {attr: value}: the code must carry none of them. Both are
        read from the code list's attributes, so a form never names codes one by one.
        """
        with_ = self.options.get("codes_with") or {}
        without = self.options.get("codes_without") or {}
        return (all(code.attrs.get(k) == v for k, v in with_.items())
                and not any(code.attrs.get(k) == v for k, v in without.items()))


@dataclass(frozen=True)
class FormDef:
    id: str
    version: int
    kind: str  # entity | event | distribution | report | stock
    title: dict[str, str]
    fields: tuple[FieldDef, ...]
    raw: dict[str, Any]

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    @property
    def entity(self) -> str | None:
        """The register entity the form writes: household | member | event | distribution
        | p0_report | stock_movement."""
        return self.raw.get("entity")

    @property
    def key_field(self) -> str | None:
        """The field that holds the written entity's id."""
        return self.raw.get("key")

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)


FIELD_TYPES = {
    "string", "text", "integer", "number", "boolean", "date", "partial_date",
    "uuid", "ref", "code", "orgunit", "month", "personal_id",
}
FORM_KINDS = {"entity", "event", "distribution", "report", "stock"}
FORM_RULES = {"one_of_required", "different", "not_before", "personal_id_agrees"}
# rules whose breach is a warning shown to the collaborator, not a refusal
WARNING_RULES = frozenset({"personal_id_agrees"})
# fewest fields each rule needs, and the most (None: no upper bound)
_RULE_ARITY = {"one_of_required": (1, None), "different": (2, None), "not_before": (2, 2),
               "personal_id_agrees": (3, 4)}
REF_ENTITIES = {"household", "member", "event"}
_CODE_FILTERS = ("codes_with", "codes_without")
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
    if ftype in ("code", "personal_id") and not raw.get("codelist"):
        raise SchemaDefinitionError(f"{path}: {ftype} field {raw['name']!r} names no codelist")
    label = raw.get("label") or {}
    if not (label.get("vi") and label.get("en")):
        raise SchemaDefinitionError(f"{path}: field {raw['name']!r} needs vi and en labels")
    if ftype == "ref" and raw.get("entity") not in REF_ENTITIES:
        raise SchemaDefinitionError(f"{path}: ref field {raw['name']!r} needs an entity")
    if raw.get("soft") and ftype != "ref":
        raise SchemaDefinitionError(f"{path}: only ref fields can be soft ({raw['name']!r})")
    for key in _CODE_FILTERS:
        if key in raw and (ftype != "code" or not isinstance(raw[key], dict) or not raw[key]):
            raise SchemaDefinitionError(
                f"{path}: {key} of {raw['name']!r} must be a non-empty object on a code field")
    return [FieldDef(
        name=raw["name"], type=ftype, label=label, required=bool(raw.get("required")),
        codelist=raw.get("codelist"), entity=raw.get("entity"), relevant=raw.get("relevant"),
        options={k: v for k, v in raw.items() if k not in _FIELD_KEYS},
        help=raw.get("help") or {},
    )]


def _check_condition(path: Path, cond: Any, fields: dict[str, FieldDef],
                     codelists: dict[str, CodeList]) -> None:
    """A ``relevant`` condition must name fields of the form, and codes of their lists."""
    if not isinstance(cond, dict):
        raise SchemaDefinitionError(f"{path}: bad condition {cond!r}")
    if "all" in cond:
        if set(cond) != {"all"} or not isinstance(cond["all"], list) or not cond["all"]:
            raise SchemaDefinitionError(f"{path}: bad condition {cond!r}")
        for sub in cond["all"]:
            _check_condition(path, sub, fields, codelists)
        return
    ops = set(cond) - {"field"}
    target = fields.get(cond.get("field", ""))
    if target is None or len(ops) != 1 or not ops <= {"in", "not_in", "present"}:
        raise SchemaDefinitionError(f"{path}: bad condition {cond!r}")
    op = ops.pop()
    if op == "present":
        if not isinstance(cond[op], bool):
            raise SchemaDefinitionError(f"{path}: bad condition {cond!r}")
        return
    if not isinstance(cond[op], list) or not cond[op]:
        raise SchemaDefinitionError(f"{path}: bad condition {cond!r}")
    if target.codelist:
        known = codelists[target.codelist]
        for value in cond[op]:
            if known.get(value) is None:
                raise SchemaDefinitionError(
                    f"{path}: condition {cond!r} names unknown code {value!r}")


def _check_form(path: Path, raw: dict[str, Any], fields: tuple[FieldDef, ...],
                codelists: dict[str, CodeList]) -> None:
    by_name = {f.name: f for f in fields}
    key = raw.get("key")
    if key is not None and (key not in by_name or not by_name[key].required):
        raise SchemaDefinitionError(f"{path}: key {key!r} is not a required field of the form")
    for f in fields:
        if f.codelist and f.codelist not in codelists:
            raise SchemaDefinitionError(f"{path}: field {f.name!r} uses unknown codelist")
        if f.relevant is not None:
            _check_condition(path, f.relevant, by_name, codelists)
        if f.type == "personal_id" and f.codelist in codelists and not all(
                re.fullmatch(r"[0-9]{3}", str(c.attrs.get("id_code"))) for c in
                codelists[f.codelist].codes):
            raise SchemaDefinitionError(
                f"{path}: every code of {f.codelist!r} needs a three-digit id_code")
        if any(k in f.options for k in _CODE_FILTERS) and not any(
                f.allows_code(c) for c in codelists[f.codelist or ""].active_codes()):
            raise SchemaDefinitionError(f"{path}: field {f.name!r} allows no active code")
    for rule in raw.get("rules", []):
        names = rule.get("fields", [])
        if rule.get("rule") not in FORM_RULES or not set(names) <= set(by_name):
            raise SchemaDefinitionError(f"{path}: bad rule {rule!r}")
        low, high = _RULE_ARITY[rule["rule"]]
        if len(names) < low or (high is not None and len(names) > high):
            raise SchemaDefinitionError(f"{path}: rule {rule!r} has the wrong number of fields")
        if rule["rule"] == "personal_id_agrees" and (
                by_name[names[0]].type != "personal_id" or by_name[names[1]].codelist != "sex"
                or by_name[names[2]].type not in ("date", "partial_date")):
            raise SchemaDefinitionError(
                f"{path}: {rule!r} takes a personal_id, a sex and a date of birth (then a card)")


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

    def field_def(self, entity: str, name: str) -> FieldDef | None:
        found = self.entity_field(entity, name)
        return found[1] if found else None

    def entity_field(self, entity: str, name: str) -> tuple[FormDef, FieldDef] | None:
        """The latest entity form writing field ``name`` of ``entity`` (household or
        member), and that field: what a reviewer's edit of the field goes through."""
        for form in self.latest_forms():
            if form.kind == "entity" and form.entity == entity:
                found = form.field(name)
                if found is not None:
                    return form, found
        return None

    def choices(self, fdef: FieldDef) -> list[Code]:
        """The codes a collaborator may pick in a code field (active and allowed)."""
        if not fdef.codelist:
            return []
        return [c for c in self.codelists[fdef.codelist].active_codes() if fdef.allows_code(c)]

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

    fragments = {p.stem: _read_json(p)["fields"]
                 for p in sorted((root / "fragments").glob("*.json"))}
    forms: dict[tuple[str, int], FormDef] = {}
    for path in sorted((root / "forms").glob("*/v*.json")):
        raw = _read_json(path)
        if raw.get("kind") not in FORM_KINDS:
            raise SchemaDefinitionError(f"{path}: unknown kind {raw.get('kind')!r}")
        if raw["id"] != path.parent.name or f"v{raw['version']}" != path.stem:
            raise SchemaDefinitionError(f"{path}: id/version do not match the file's place")
        fields = tuple(f for item in raw["fields"] for f in _parse_field(path, item, fragments))
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise SchemaDefinitionError(f"{path}: a field name is repeated")
        _check_form(path, raw, fields, codelists)
        forms[(raw["id"], int(raw["version"]))] = FormDef(
            raw["id"], int(raw["version"]), raw["kind"], raw["title"], fields, raw)

    mapping_path = root / "mappings" / "official_codes.json"
    mappings = _read_json(mapping_path) if mapping_path.exists() else {}
    return Registry(root, forms, codelists, mappings)


@cache
def registry() -> Registry:
    """The registry of the configured schemas folder, loaded once per process."""
    return load_registry()
