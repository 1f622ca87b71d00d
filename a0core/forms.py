"""Build marshmallow schemas from the form definitions in schemas/.

One builder for both sides: the server validates every incoming record with these
schemas (server/forms/), and the app validates what a collaborator types with the
very same ones, so a form is never written twice by hand. A failed record raises
:class:`~a0core.errors.ValidationFailed` carrying one coded, bilingual error per
field.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from a0core import personal_id
from a0core.errors import A0Error, ValidationFailed
from a0core.schemas import WARNING_RULES, FieldDef, FormDef, Registry, registry
from a0core.vntime import FUTURE_SLACK, VN_TZ, today_vn

__all__ = ["FUTURE_SLACK", "VN_TZ", "FormSet", "FormValidator", "condition_holds", "today_vn"]


_BASE_MESSAGES = {
    "required": "field_required",
    "null": "field_required",
    "invalid": "field_type",
    "validator_failed": "field_type",
}


class _Text(fields.String):
    """A string, stripped; whitespace-only counts as missing."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return " ".join(value.split()) if self.metadata.get("collapse") else value.strip()


class _Uuid(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise self.make_error("invalid") from None


class _Code(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        code = self.metadata["codelist"].get(value)
        if code is None or (code.retired and not self.metadata.get("allow_retired")):
            raise ValidationError("code_unknown")
        if not self.metadata["def"].allows_code(code):
            raise ValidationError("code_not_allowed")
        return value


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR_RE = re.compile(r"^\d{4}$")
_MONTH_RE = re.compile(r"^\d{4}-\d{2}$")


def _check_not_future(day: dt.date, field: fields.Field) -> None:
    if field.metadata.get("max") == "today" and day > today_vn() + FUTURE_SLACK:
        raise ValidationError("date_future")


def _check_min_year(year: int, field: fields.Field) -> None:
    if year < field.metadata.get("min_year", 1880):
        raise ValidationError("date_invalid")


class _Date(fields.String):
    """ISO date ``YYYY-MM-DD``, kept as a string so records stay plain JSON."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")  # field_type, as for every other type
        if not _DATE_RE.match(value):
            raise ValidationError("date_invalid")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError("date_invalid") from None
        _check_min_year(day.year, self)
        _check_not_future(day, self)
        return value


class _PartialDate(fields.String):
    """A full date or a year alone: the A0 register often knows only the year of birth."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and _YEAR_RE.match(value):
            year = int(value)
            _check_min_year(year, self)
            if self.metadata.get("max") == "today" and year > today_vn().year:
                raise ValidationError("date_future")
            return value
        return _Date._deserialize(self, value, attr, data, **kwargs)  # type: ignore[arg-type]


class _Month(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not _MONTH_RE.match(value):
            raise ValidationError("date_invalid")
        year, month = int(value[:4]), int(value[5:])
        if not 1 <= month <= 12:
            raise ValidationError("date_invalid")
        _check_min_year(year, self)
        return value


class _PersonalId(fields.String):
    """12 digits (spaces, dots and dashes between groups are dropped), a province that
    exists, a century that is not in the future: :mod:`a0core.personal_id`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        number = personal_id.normalise(value)
        found = personal_id.problems(number, self.metadata["provinces"], today_vn().year)
        if found:
            raise ValidationError(found)
        return number


def provinces_of(fdef: FieldDef, reg: Registry) -> frozenset[str]:
    """The three-digit birth-registration province codes a personal_id field accepts
    (``id_code`` of its code list's active codes)."""
    return frozenset(c.attrs["id_code"] for c in reg.codelist(fdef.codelist or "").active_codes())


def _field_for(fdef: FieldDef, reg: Registry) -> fields.Field:
    opts = fdef.options
    meta: dict[str, Any] = {"def": fdef, **opts}
    validators: list[Any] = []
    if fdef.type in {"string", "text", "orgunit"}:
        if "max_length" in opts:
            validators.append(validate.Length(max=opts["max_length"], error="field_too_long"))
        if "pattern" in opts:
            validators.append(validate.Regexp(opts["pattern"], error="field_pattern"))
        meta["collapse"] = fdef.type == "string"
        cls: type[fields.Field] = _Text
    elif fdef.type in {"uuid", "ref"}:
        cls = _Uuid
    elif fdef.type == "code":
        meta["codelist"] = reg.codelist(fdef.codelist or "")
        cls = _Code
    elif fdef.type == "date":
        cls = _Date
    elif fdef.type == "partial_date":
        cls = _PartialDate
    elif fdef.type == "month":
        cls = _Month
    elif fdef.type == "personal_id":
        meta["provinces"] = provinces_of(fdef, reg)
        cls = _PersonalId
    elif fdef.type in {"integer", "number"}:
        if "min" in opts or "max" in opts:
            validators.append(validate.Range(min=opts.get("min"), max=opts.get("max"),
                                             error="field_range"))
        cls = fields.Integer if fdef.type == "integer" else fields.Float
        kwargs: dict[str, Any] = ({"strict": True} if fdef.type == "integer"
                                  else {"allow_nan": False})
        return cls(required=fdef.required and not fdef.relevant,
                   allow_none=not (fdef.required and not fdef.relevant),
                   validate=validators, metadata=meta, error_messages=_BASE_MESSAGES, **kwargs)
    elif fdef.type == "boolean":
        return fields.Boolean(required=fdef.required and not fdef.relevant,
                              allow_none=not (fdef.required and not fdef.relevant),
                              truthy={True}, falsy={False}, metadata=meta,
                              error_messages=_BASE_MESSAGES)
    else:  # pragma: no cover - load_registry refuses unknown types
        raise ValueError(fdef.type)
    required = fdef.required and not fdef.relevant
    return cls(required=required, allow_none=not required, validate=validators,
               metadata=meta, error_messages=_BASE_MESSAGES)


def condition_holds(cond: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Evaluate a field's ``relevant`` rule (the app uses it to show or hide the field)."""
    if "all" in cond:
        return all(condition_holds(c, record) for c in cond["all"])
    value = record.get(cond["field"])
    if "in" in cond:
        return value in cond["in"]
    if "not_in" in cond:
        return value is not None and value not in cond["not_in"]
    if "present" in cond:
        return (value is not None) == bool(cond["present"])
    raise ValueError(f"unknown condition {cond!r}")


SchemaCheck = Callable[[Mapping[str, Any]], dict[str, list[str]]]


def schema_checks(form: FormDef) -> tuple[SchemaCheck, SchemaCheck]:
    """The record-level checks of a form: relevance of conditional fields, form rules.

    Each takes the loaded record (absent and null alike) and returns ``{field: [codes]}``.
    Shared by the marshmallow schema and the fast path (:mod:`a0core.fastforms`).
    """
    conditional = [f for f in form.fields if f.relevant]
    rules = [r for r in form.raw.get("rules", []) if r["rule"] not in WARNING_RULES]

    def relevance(data: Mapping[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for f in conditional:
            relevant = condition_holds(f.relevant or {}, data)
            present = data.get(f.name) is not None
            if present and not relevant:
                errors[f.name] = ["field_not_relevant"]
            elif relevant and f.required and not present:
                errors[f.name] = ["field_required"]
        return errors

    def form_rules(data: Mapping[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for rule in rules:
            names = rule["fields"]
            values = [data.get(n) for n in names]
            if rule["rule"] == "one_of_required":
                broken = all(v is None for v in values)
            elif rule["rule"] == "different":
                broken = None not in values and len(set(values)) < len(values)
            elif rule["rule"] == "not_before":  # dates: fields[0] >= fields[1] (ISO strings sort)
                broken = None not in values and str(values[0]) < str(values[1])
            else:  # pragma: no cover - checked when the registry loads
                raise ValueError(rule)
            if broken:
                errors.setdefault(names[0], []).append(f"rule_{rule['rule']}")
        return errors

    return relevance, form_rules


WarningCheck = Callable[[Mapping[str, Any]], list[tuple[Mapping[str, Any], str, str]]]


def warning_checks(form: FormDef) -> WarningCheck:
    """The form's warning rules on a valid record: ``[(rule, field, code), …]``.

    ``personal_id_agrees`` [id, sex, birth date, card?]: the identification number
    (or, without one, a 12-digit health-insurance card number, which is the
    identification number on newer cards) against the record's sex and year of
    birth, and the card against the number when both are there.
    """
    rules = [r for r in form.raw.get("rules", []) if r["rule"] in WARNING_RULES]

    def check(data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str, str]]:
        out: list[tuple[Mapping[str, Any], str, str]] = []
        for rule in rules:
            id_field, sex, born, *card_field = rule["fields"]
            card = data.get(card_field[0]) if card_field else None
            card = card if isinstance(card, str) and personal_id.parse(card) else None
            number, where = data.get(id_field), id_field
            if number is None and card is not None:
                number, where = card, card_field[0]
            if number is None:
                continue
            out += [(rule, where, code) for code in
                    personal_id.disagreements(number, data.get(sex), data.get(born))]
            if card is not None and where == id_field and card != number:
                out.append((rule, card_field[0], "personal_id_card_mismatch"))
        return out

    return check


def build_schema(form: FormDef, reg: Registry) -> type[Schema]:
    """A marshmallow Schema class for one form version."""
    attrs: dict[str, Any] = {f.name: _field_for(f, reg) for f in form.fields}

    relevance, rules = schema_checks(form)

    @validates_schema
    def _relevance(self: Schema, data: dict[str, Any], **kwargs: Any) -> None:
        errors = relevance(data)
        if errors:
            raise ValidationError(errors)

    @validates_schema
    def _form_rules(self: Schema, data: dict[str, Any], **kwargs: Any) -> None:
        errors = rules(data)
        if errors:
            raise ValidationError(errors)

    attrs["_relevance"] = _relevance
    attrs["_form_rules"] = _form_rules
    schema_cls = type(f"{form.id}_v{form.version}", (Schema,), attrs)
    schema_cls.error_messages = {**Schema.error_messages, "unknown": "field_unknown",
                                 "type": "field_type"}
    return schema_cls


def _blank_to_none(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in record.items()}


class FormValidator:
    """Validate records of one form version; raise ValidationFailed with every error."""

    def __init__(self, form: FormDef, reg: Registry, fast: bool = True) -> None:
        from a0core.fastforms import compile_fast

        self.form = form
        self.registry = reg
        self.schema = build_schema(form, reg)(unknown=RAISE)
        self._warnings = warning_checks(form)
        # ordinary records skip marshmallow; the fast path defers on anything else
        self.fast = compile_fast(form, reg, list(schema_checks(form)),
                                 lambda: today_vn(), FUTURE_SLACK) if fast else None

    def validate(self, record: Mapping[str, Any], **where: Any) -> dict[str, Any]:
        if self.fast is not None:
            loaded = self.fast.check(record)  # type: ignore[arg-type]
            if loaded is not None:
                return loaded
        return self.validate_slow(record, **where)

    def validate_slow(self, record: Mapping[str, Any], **where: Any) -> dict[str, Any]:
        """Marshmallow alone: the definition of validity, and of every error."""
        if not isinstance(record, Mapping):
            raise ValidationFailed([A0Error("field_type", field="", label_vi="bản ghi",
                                            label_en="record")], **where)
        data = _blank_to_none(record)
        try:
            loaded = self.schema.load(data)
        except ValidationError as exc:
            raise ValidationFailed(self._errors(exc.messages, data), form=self.form.id,
                                   **where) from None
        # absent optional fields are stored as absent, not as null
        return {k: v for k, v in loaded.items() if v is not None}

    def warnings(self, record: Mapping[str, Any],
                 written: Collection[str] | None = None) -> list[A0Error]:
        """What the collaborator should check on a valid ``record`` (the record is kept).

        With ``written`` (the fields an edit wrote), only the warnings of rules on those
        fields: an edit of the education does not repeat an old warning.
        """
        out = []
        for rule, name, code in self._warnings(record):
            if written is not None and not set(rule["fields"]) & set(written):
                continue
            out.append(self._warning(code, name, rule, record))
        return out

    def _warning(self, code: str, name: str, rule: Mapping[str, Any],
                 record: Mapping[str, Any]) -> A0Error:
        number = record.get(name)
        said = personal_id.parse(number) if isinstance(number, str) else None
        id_field, sex_field, born_field, *_ = rule["fields"]
        sex = self.registry.codelist("sex")

        def sex_word(value: Any, lang: str) -> str | None:
            found = sex.get(value) if isinstance(value, str) else None
            return getattr(found, lang).lower() if found else None

        return A0Error(code, field=name, value=number,
                       id_number=record.get(id_field),
                       id_sex_vi=sex_word(said and said.sex, "vi"),
                       id_sex_en=sex_word(said and said.sex, "en"),
                       sex_vi=sex_word(record.get(sex_field), "vi"),
                       sex_en=sex_word(record.get(sex_field), "en"),
                       id_year=said.year if said else None,
                       year=str(record.get(born_field) or "")[:4] or None)

    def _errors(self, messages: Any, data: Mapping[str, Any]) -> list[A0Error]:
        out: list[A0Error] = []
        items = messages.items() if isinstance(messages, dict) else [("_schema", messages)]
        for name, codes in sorted(items):
            if isinstance(codes, dict):  # from validates_schema: {field: [codes]}
                out.extend(self._errors(codes, data))
                continue
            fdef = self.form.field(name)
            for code in codes:
                if code.startswith("rule_"):
                    out.append(self._rule_error(code, name))
                    continue
                if fdef is None:
                    out.append(A0Error("field_unknown", field=name))
                    continue
                out.append(A0Error(
                    code, field=name, label_vi=fdef.label["vi"], label_en=fdef.label["en"],
                    value=data.get(name), codelist=fdef.codelist, **fdef.options))
        return out


    def _rule_error(self, code: str, first: str) -> A0Error:
        rule = next(r for r in self.form.raw["rules"]
                    if f"rule_{r['rule']}" == code and r["fields"][0] == first)
        labels = [self.form.field(n) for n in rule["fields"]]
        return A0Error(code, field=first,
                       labels_vi=", ".join(f.label["vi"] for f in labels if f),
                       labels_en=", ".join(f.label["en"] for f in labels if f))


class FormSet:
    """Validators for every form version the registry knows."""

    def __init__(self, reg: Registry | None = None) -> None:
        self.registry = reg or registry()
        self._validators = {key: FormValidator(f, self.registry)
                            for key, f in self.registry.forms.items()}

    def validator(self, form_id: str, version: int) -> FormValidator:
        found = self._validators.get((form_id, version))
        if found is None:
            if self.registry.latest_version(form_id) is None:
                raise A0Error("form_unknown", form=form_id)
            raise A0Error("form_version_unknown", form=form_id, version=version)
        return found

    def validate(self, form_id: str, version: int, record: Mapping[str, Any],
                 **where: Any) -> dict[str, Any]:
        return self.validator(form_id, version).validate(record, **where)
