"""The fast validation path agrees with marshmallow, for every form in schemas/forms.

Soundness: whenever the fast path answers, marshmallow accepts the same record and
returns exactly the same dict (same keys, values, order). Completeness (so the fast
path is actually used): an ordinary record — exact types, canonical UUIDs, known
codes — that marshmallow accepts is accepted by the fast path too.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a0core.errors import ValidationFailed
from a0core.forms import FormSet, FormValidator
from a0core.schemas import FieldDef, FormDef, load_registry, schemas_dir
from tests.test_forms_validation import VALID

REG = load_registry(schemas_dir())
FORMSET = FormSet(REG)
FORMS = sorted(REG.forms.values(), key=lambda f: f.key)
TODAY = dt.date.today()

LETTERS = string.ascii_letters + "ăâđêôơưàáảãạễệốồộờợứừựýỳỹĐÂÊÔƠƯ" + "  .-'"


def fid(form: FormDef) -> str:
    return f"{form.id}/v{form.version}"


def marshmallow(validator: FormValidator, record: Any) -> dict[str, Any] | None:
    try:
        return validator.validate_slow(record)
    except ValidationFailed:
        return None


def ordinary_value(fdef: FieldDef) -> st.SearchStrategy[Any]:
    """Values of the shape a device sends for this field (valid for the field alone)."""
    opts = fdef.options
    if fdef.type in {"string", "text", "orgunit"}:
        size = opts.get("max_length", 60)
        if "pattern" in opts:
            return st.from_regex(opts["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= size and s == s.strip() and "\n" not in s)
        return st.text(LETTERS, min_size=1, max_size=size + 5)  # sometimes too long
    if fdef.type in {"uuid", "ref"}:
        return st.uuids().map(str)
    if fdef.type == "code":
        return st.sampled_from([c.code for c in REG.choices(fdef)])
    if fdef.type in {"date", "partial_date"}:
        days = st.dates(dt.date(1880, 1, 1), TODAY).map(dt.date.isoformat)
        if fdef.type == "partial_date":
            return days | st.integers(1880, TODAY.year).map(str)
        return days
    if fdef.type == "month":
        return st.dates(dt.date(1880, 1, 1), TODAY).map(lambda d: d.isoformat()[:7])
    if fdef.type == "integer":
        return st.integers(opts.get("min", -10**6), opts.get("max", 10**6))
    if fdef.type == "number":
        return st.floats(opts.get("min", -1e6), opts.get("max", 1e6))
    if fdef.type == "boolean":
        return st.booleans()
    if fdef.type == "personal_id":  # a province, a sex, a year of birth up to today
        provinces = [c.attrs["id_code"] for c in REG.codelist(fdef.codelist).codes]
        return st.builds(lambda p, sex, year, rest: f"{p}{(year // 100 - 19) * 2 + sex}"
                         f"{year % 100:02d}{rest:06d}", st.sampled_from(provinces),
                         st.integers(0, 1), st.integers(1900, TODAY.year),
                         st.integers(0, 999_999))
    raise AssertionError(fdef.type)


WEIRD = (st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True)
         | st.text(max_size=6) | st.lists(st.integers(), max_size=2)
         | st.sampled_from(["", "  ", "\t", "2999-01-01", "2999", "1850-01-01", "1879",
                            "2025-02-29", "2024-02-29", "2025-13-01", "2025-3-1",
                            "2025-01-01\n", "٢٠٢٥-٠١-٠١", "1990 ", " 1990-01-01",
                            "00000000-0000-4000-8000-00000000000A",
                            "{00000000-0000-4000-8000-000000000001}",
                            "00000000000040008000000000000001", "retired", "other",
                            "HS4010123456789\n", " 0123456789", "1.5", "3", "x" * 300,
                            "036 190 004512", "003190004512", "036490004512",
                            "03619000451", "036190004512 "]))


@st.composite
def ordinary_record(draw: st.DrawFn, form: FormDef) -> dict[str, Any]:
    """Random valid-looking values, random optional fields present; may break rules."""
    record = dict(VALID[form.key]) if draw(st.booleans()) else {}
    for fdef in form.fields:
        keep = fdef.required or draw(st.integers(0, 2)) > 0
        if not keep:
            record.pop(fdef.name, None)
        elif fdef.name not in record or draw(st.booleans()):
            record[fdef.name] = draw(ordinary_value(fdef))
    if draw(st.integers(0, 4)) == 0 and form.fields:  # the same id twice: "different" rules
        refs = [f.name for f in form.fields if f.type in {"uuid", "ref"} and f.name in record]
        if len(refs) >= 2:
            record[refs[1]] = record[refs[0]]
    return record


@st.composite
def mangled_record(draw: st.DrawFn, form: FormDef) -> Any:
    record = draw(ordinary_record(form))
    names = [f.name for f in form.fields]
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(WEIRD)
    if draw(st.integers(0, 9)) == 0:
        record[draw(st.text(max_size=5))] = draw(WEIRD)
    if draw(st.integers(0, 19)) == 0:
        return draw(st.lists(st.integers(), max_size=2) | st.none() | st.text(max_size=3))
    return record


def test_every_form_has_a_fast_path():
    for form in FORMS:
        assert FORMSET.validator(form.id, form.version).fast is not None, fid(form)


@pytest.mark.parametrize("form", FORMS, ids=fid)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ordinary_records_agree(form, data):
    validator = FORMSET.validator(form.id, form.version)
    record = data.draw(ordinary_record(form))
    slow = marshmallow(validator, dict(record))
    fast = validator.fast.check(dict(record))
    assert fast == slow  # accepted by both (identically) or deferred when marshmallow refuses
    if fast is not None:
        assert list(fast.items()) == list(slow.items())


@pytest.mark.parametrize("form", FORMS, ids=fid)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_never_accepts_what_marshmallow_refuses(form, data):
    validator = FORMSET.validator(form.id, form.version)
    record = data.draw(mangled_record(form))
    fast = validator.fast.check(record)
    if fast is not None:
        slow = marshmallow(validator, record)
        assert slow is not None, record
        assert list(fast.items()) == list(slow.items())
    # whichever path ran, validate() says what marshmallow says
    try:
        out = validator.validate(record)
    except ValidationFailed as failed:
        with pytest.raises(ValidationFailed) as again:
            validator.validate_slow(record)
        assert [e.to_dict() for e in failed.errors] == [e.to_dict() for e in again.value.errors]
    else:
        assert out == validator.validate_slow(record)


def test_dates_in_the_future_are_left_to_marshmallow(monkeypatch):
    import a0core.forms as forms

    form = REG.form("member", 1)
    validator = FORMSET.validator("member", 1)
    record = {**VALID[form.key], "birth_date": "2030-01-01", "registered_on": "2030-01-02"}
    assert validator.fast.check(record) is None
    monkeypatch.setattr(forms, "today_vn", lambda: dt.date(2031, 1, 1))
    assert validator.fast.check(record) == validator.validate_slow(record)
