"""A fast path for validating ordinary records, compiled from the same form definitions.

Sync ingestion validates every incoming record, and marshmallow costs ~100 µs per
record — most of the server's time for a batch of 500 operations. The marshmallow
schemas built in :mod:`a0core.forms` stay THE definition of validity and the only
source of error codes and messages. This module compiles, from the very same
:class:`~a0core.schemas.FormDef`, a checker that is *conservative*: it either
returns exactly what marshmallow would return for the record, or ``None`` ("I am
not sure"), and then the caller asks marshmallow. It never refuses anything itself,
so it cannot produce an error marshmallow would not.

It accepts only the plain shapes a device sends: exact ``str``/``int``/``bool``
types, canonical lower-case UUIDs, ASCII dates, known codes. Anything unusual
(a blank required field, an upper-case UUID, a bool where an integer is expected,
an unknown key, a broken rule...) is left to marshmallow. The relevance conditions
and form rules are evaluated by the same functions the marshmallow schema uses.
``tests/test_forms_fast.py`` proves the equivalence with hypothesis for every form.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from a0core import personal_id
from a0core.schemas import FieldDef, FormDef, Registry

DEFER: Any = object()  # a checker's answer for "let marshmallow decide"
Checker = Callable[[Any], Any]
Today = Callable[[], dt.date]

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR_RE = re.compile(r"[0-9]{4}")
_MONTH_RE = re.compile(r"[0-9]{4}-[0-9]{2}")
_DEFAULT_MIN_YEAR = 1880  # as in a0core.forms._check_min_year


class _Dates:
    """Date checks that read "today" at most once per record, as marshmallow would."""

    def __init__(self, today: Today, slack: dt.timedelta) -> None:
        self.today, self.slack = today, slack
        self._day: dt.date | None = None

    def reset(self) -> None:
        self._day = None

    def day(self) -> dt.date:
        if self._day is None:
            self._day = self.today()
        return self._day


def _text(fdef: FieldDef) -> Checker:
    collapse = fdef.type == "string"
    max_length = fdef.options.get("max_length")
    pattern = re.compile(fdef.options["pattern"]) if "pattern" in fdef.options else None

    def check(value: Any) -> Any:
        if type(value) is not str:
            return DEFER
        out = " ".join(value.split()) if collapse else value.strip()
        if max_length is not None and len(out) > max_length:
            return DEFER
        if pattern is not None and pattern.match(out) is None:
            return DEFER
        return out
    return check


def _uuid(fdef: FieldDef) -> Checker:
    match = _UUID_RE.fullmatch

    def check(value: Any) -> Any:
        # str(uuid.UUID(v)) == v exactly for the canonical lower-case form
        return value if type(value) is str and match(value) else DEFER
    return check


def _code(fdef: FieldDef, reg: Registry) -> Checker:
    codelist = reg.codelist(fdef.codelist or "")
    allow_retired = bool(fdef.options.get("allow_retired"))
    accepted = frozenset(c.code for c in codelist.codes
                         if (allow_retired or not c.retired) and fdef.allows_code(c))

    def check(value: Any) -> Any:
        return value if type(value) is str and value in accepted else DEFER
    return check


def _date(fdef: FieldDef, dates: _Dates) -> Checker:
    min_year = fdef.options.get("min_year", _DEFAULT_MIN_YEAR)
    not_future = fdef.options.get("max") == "today"

    def check(value: Any) -> Any:
        if type(value) is not str or _DATE_RE.fullmatch(value) is None:
            return DEFER
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return DEFER
        if day.year < min_year or (not_future and day > dates.day() + dates.slack):
            return DEFER
        return value
    return check


def _partial_date(fdef: FieldDef, dates: _Dates) -> Checker:
    full = _date(fdef, dates)
    min_year = fdef.options.get("min_year", _DEFAULT_MIN_YEAR)
    not_future = fdef.options.get("max") == "today"

    def check(value: Any) -> Any:
        if type(value) is str and _YEAR_RE.fullmatch(value):
            year = int(value)
            if year < min_year or (not_future and year > dates.day().year):
                return DEFER
            return value
        return full(value)
    return check


def _month(fdef: FieldDef) -> Checker:
    min_year = fdef.options.get("min_year", _DEFAULT_MIN_YEAR)

    def check(value: Any) -> Any:
        if type(value) is not str or _MONTH_RE.fullmatch(value) is None:
            return DEFER
        if not 1 <= int(value[5:]) <= 12 or int(value[:4]) < min_year:
            return DEFER
        return value
    return check


def _integer(fdef: FieldDef) -> Checker:
    low, high = fdef.options.get("min"), fdef.options.get("max")

    def check(value: Any) -> Any:
        if type(value) is not int:  # bools and floats go to marshmallow
            return DEFER
        if (low is not None and value < low) or (high is not None and value > high):
            return DEFER
        return value
    return check


def _number(fdef: FieldDef) -> Checker:
    low, high = fdef.options.get("min"), fdef.options.get("max")

    def check(value: Any) -> Any:
        if type(value) is not float or not math.isfinite(value):
            return DEFER
        if (low is not None and value < low) or (high is not None and value > high):
            return DEFER
        return value
    return check


def _personal_id(fdef: FieldDef, reg: Registry, dates: _Dates) -> Checker:
    from a0core.forms import provinces_of

    provinces = provinces_of(fdef, reg)

    def check(value: Any) -> Any:
        # only the plain 12 digits; grouped digits and every refusal go to marshmallow
        if type(value) is not str or personal_id.problems(value, provinces, dates.day().year):
            return DEFER
        return value
    return check


def _boolean(fdef: FieldDef) -> Checker:
    def check(value: Any) -> Any:
        return value if value is True or value is False else DEFER
    return check


def _checker(fdef: FieldDef, reg: Registry, dates: _Dates) -> Checker | None:
    kind = fdef.type
    if kind in {"string", "text", "orgunit"}:
        return _text(fdef)
    if kind in {"uuid", "ref"}:
        return _uuid(fdef)
    if kind == "code":
        return _code(fdef, reg)
    if kind == "date":
        return _date(fdef, dates)
    if kind == "partial_date":
        return _partial_date(fdef, dates)
    if kind == "month":
        return _month(fdef)
    if kind == "integer":
        return _integer(fdef)
    if kind == "number":
        return _number(fdef)
    if kind == "boolean":
        return _boolean(fdef)
    if kind == "personal_id":
        return _personal_id(fdef, reg, dates)
    return None  # a type this module does not know: every record goes to marshmallow


SchemaCheck = Callable[[Mapping[str, Any]], dict[str, list[str]]]


class FastValidator:
    """``check(record)``: marshmallow's output for an ordinary valid record, else ``None``."""

    def __init__(self, form: FormDef, checkers: dict[str, Checker], required: frozenset[str],
                 schema_checks: list[SchemaCheck], dates: _Dates) -> None:
        self.form = form
        self._order = [(f.name, checkers[f.name], f.name in required) for f in form.fields]
        self._known = frozenset(checkers)
        self._schema_checks = schema_checks
        self._dates = dates

    def check(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        if type(record) is not dict or not self._known.issuperset(record):
            return None  # unknown keys: marshmallow names them
        self._dates.reset()
        loaded: dict[str, Any] = {}
        nulls = False
        for name, check, required in self._order:  # declaration order, as marshmallow loads
            value = record.get(name, _ABSENT)
            if value is _ABSENT:
                if required:
                    return None
                continue
            # blank counts as missing (forms._blank_to_none: not v.strip(), i.e. "" or isspace)
            if value is None or (type(value) is str and (not value or value.isspace())):
                if required:
                    return None
                loaded[name] = None
                nulls = True
                continue
            out = check(value)
            if out is DEFER:
                return None
            loaded[name] = out
        for schema_check in self._schema_checks:
            if schema_check(loaded):
                return None
        return {k: v for k, v in loaded.items() if v is not None} if nulls else loaded


_ABSENT: Any = object()


def compile_fast(form: FormDef, reg: Registry, schema_checks: list[SchemaCheck],
                 today: Today, slack: dt.timedelta) -> FastValidator | None:
    """The fast path of one form version, or ``None`` if a field type is not covered.

    ``schema_checks`` are the schema-level checks of the marshmallow schema (relevance,
    form rules), each returning ``{field: [codes]}``; ``today``/``slack`` are the ones
    the marshmallow date fields use.
    """
    dates = _Dates(today, slack)
    checkers: dict[str, Checker] = {}
    for fdef in form.fields:
        found = _checker(fdef, reg, dates)
        if found is None:
            return None
        checkers[fdef.name] = found
    # marshmallow's "required": required and not conditional (see forms._field_for)
    required = frozenset(f.name for f in form.fields if f.required and not f.relevant)
    return FastValidator(form, checkers, required, schema_checks, dates)
