"""Every form validates what it should and refuses the rest with the right code and field.

The cases are generated from the registry itself: for each form, each required field
is dropped, each code field gets an unknown code, each rule is broken, and so on. A
new form (or a new version) without an example in ``VALID`` fails
:func:`test_every_form_version_has_an_example`, so no form ships untested.
"""

from __future__ import annotations

import copy
from string import Formatter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a0core.errors import A0Error, ValidationFailed, catalogue
from a0core.forms import FormSet, condition_holds
from a0core.schemas import WARNING_RULES, FieldDef, FormDef, load_registry, schemas_dir

REG = load_registry(schemas_dir())
FORMSET = FormSet(REG)


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


HH, MEMBER, MOTHER, HUSBAND, CHILD, EVENT = uid(1), uid(2), uid(3), uid(4), uid(5), uid(6)
COMMON = {"id": EVENT, "household_id": HH, "member_id": MEMBER, "event_date": "2025-03-14"}

# One complete, valid record per form version: every field filled in (with its
# condition made true where it has one), so that every field is exercised.
VALID: dict[tuple[str, int], dict[str, Any]] = {
    ("household", 1): {
        "id": HH, "area_code": "12619.03.1", "village_code": "12619.03", "number": "100.2",
        "address": "Xóm Đình, thôn Đông", "head_member_id": MEMBER},
    ("member", 1): {
        "id": MEMBER, "household_id": HH, "full_name": "Nguyễn Thị Thu Hương",
        "relation": "spouse", "sex": "female", "birth_date": "1990-07-21", "ethnicity": "kinh",
        "education": "upper_secondary", "marital_status": "married",
        "residence_status": "present", "bhyt_number": "HS4010123456789", "mother_id": MOTHER,
        "registered_on": "2024-01-05"},
    ("member", 2): {
        "id": MEMBER, "household_id": HH, "full_name": "Nguyễn Thị Thu Hương",
        "relation": "spouse", "sex": "female", "birth_date": "1990-07-21", "ethnicity": "kinh",
        "education": "upper_secondary", "marital_status": "married",
        "residence_status": "present", "id_number": "036190004512",
        "bhyt_number": "HS4010123456789", "mother_id": MOTHER, "registered_on": "2024-01-05"},
    ("woman_status", 1): {
        "member_id": MEMBER, "recorded_on": "2024-01-05", "current_method": "iud",
        "method_start": "2021-06-01", "living_children": 2, "husband_id": HUSBAND},
    ("birth", 1): {
        **COMMON, "child_id": CHILD, "child_name": "Trần Minh Khôi", "sex": "male",
        "birth_order": 3, "place_of_birth": "hospital", "birth_weight_g": 3150},
    ("newborn_screening", 1): {
        **COMMON, "member_id": CHILD, "screening": "heel_prick", "result": "normal"},
    ("death", 1): {**COMMON, "cause_group": "old_age"},
    ("move_in", 1): {
        **COMMON, "from_scope": "other_province", "from_place": "Phường Bến Thành, TP. Hồ Chí Minh",
        "residence_type": "temporary"},
    ("move_out", 1): {**COMMON, "to_scope": "abroad", "to_place": "Đài Loan (Trung Quốc)"},
    ("change_info", 1): {
        **COMMON, "full_name": "Nguyễn Thị Thu Hường", "sex": "female", "birth_date": "1990",
        "ethnicity": "tay", "education": "college_university", "bhyt_number": "0123456789",
        "relation": "head"},
    ("method_start", 1): {**COMMON, "method": "pill", "source": "ctv"},
    ("method_stop", 1): {**COMMON, "method": "pill", "reason": "want_child"},
    ("method_switch", 1): {**COMMON, "from_method": "pill", "method": "iud"},
    ("pregnancy", 1): {**COMMON, "outcome": "pregnant", "expected_date": "2025-10-20"},
    ("prenatal_screening", 1): {**COMMON, "screening": "ultrasound", "result": "abnormal"},
    ("elderly_check", 1): {**COMMON, "result": "chronic_condition"},
    ("marriage", 1): {**COMMON, "spouse_id": HUSBAND, "spouse_name": "Lê Văn Nam"},
    ("divorce", 1): {**COMMON, "spouse_id": HUSBAND},
    ("distribution", 1): {
        "id": EVENT, "area_code": "12619.03.1", "household_id": HH, "member_id": MEMBER,
        "method": "condom", "quantity": 20, "distributed_on": "2025-03-10"},
    ("distribution", 2): {
        "id": EVENT, "area_code": "12619.03.1", "household_id": HH, "member_id": MEMBER,
        "method": "pill", "quantity": 3, "distributed_on": "2025-03-10",
        "source": "social_marketing"},
    ("distribution", 3): {
        "id": EVENT, "area_code": "12619.03.1", "household_id": HH, "member_id": MEMBER,
        "method": "pill", "quantity": 3, "distributed_on": "2025-03-10",
        "source": "social_marketing", "unit_price": 3500},
    ("stock_receipt", 1): {
        "id": EVENT, "area_code": "12619.03.1", "method": "condom", "quantity": 500,
        "supplier": "district", "received_on": "2025-03-03", "lot": "BCS-2501",
        "expiry": "2028-12-31", "note": "Đợt cấp quý I"},
    ("stock_transfer", 1): {
        "id": EVENT, "area_code": "12619.03.1", "method": "pill", "quantity": 30,
        "issued_on": "2025-03-04", "lot": "VU 24/11", "expiry": "2027-06-30",
        "note": "Cấp tháng 3"},
    ("stock_return", 1): {
        "id": EVENT, "area_code": "12619.03.1", "method": "pill", "quantity": 5,
        "returned_on": "2025-03-20", "reason": "near_expiry", "lot": "VU 24/11",
        "expiry": "2025-05-31", "note": "Sắp hết hạn"},
    ("stock_loss", 1): {
        "id": EVENT, "area_code": "12619.03.1", "method": "condom", "quantity": 12,
        "lost_on": "2025-03-21", "reason": "damaged", "lot": "BCS-2501", "note": "Ướt"},
    ("stock_adjustment", 1): {
        "id": EVENT, "area_code": "12619.03.1", "method": "condom", "counted_on": "2025-03-31",
        "book_balance": 140, "counted": 136, "reason": "physical_count", "note": "Kiểm kê quý"},
    ("stock_dispense", 1): {
        "id": EVENT, "method": "emergency_pill", "quantity": 2, "dispensed_on": "2025-03-12",
        "source": "sold", "unit_price": 15000, "note": "Tại trạm"},
    ("stock_confirm", 1): {
        "id": EVENT, "transfer_id": uid(8), "received_quantity": 30,
        "received_on": "2025-03-05", "note": "Đủ"},
    ("household_change", 1): {**COMMON, "to_household_id": uid(7), "reason": "split_off"},
    ("p0_report", 1): {
        "id": EVENT, "area_code": "12619.03.1", "month": "2025-02", "closed_on": "2025-03-01",
        "births": 1, "deaths": 0, "moves_in": 2, "moves_out": 0, "household_changes": 1,
        "marriages": 0, "divorces": 0, "changes": 3, "new_users": 1, "stopped_users": 0,
        "switched": 0, "distribution": 4, "pregnancy": 1, "prenatal_screening": 0,
        "newborn_screening": 1, "elderly": 2},
}

FORMS = sorted(REG.forms.values(), key=lambda f: f.key)


def fid(form: FormDef) -> str:
    return f"{form.id}/v{form.version}"


def valid(form: FormDef) -> dict[str, Any]:
    return copy.deepcopy(VALID[form.key])


def minimal(form: FormDef) -> dict[str, Any]:
    """The valid example cut down to its required fields (and one of each one_of_required)."""
    full = valid(form)
    keep = {f.name for f in form.fields if f.required}
    keep |= {r["fields"][0] for r in form.raw.get("rules", []) if r["rule"] == "one_of_required"}
    return {k: v for k, v in full.items() if k in keep}


def failure(form: FormDef, record: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        FORMSET.validate(form.id, form.version, record)
    exc = info.value
    check_messages(exc)
    return exc


def check_messages(exc: ValidationFailed) -> None:
    """Every error speaks Vietnamese and English, with its placeholders filled in."""
    for err in [exc, *exc.errors]:
        assert err.vi.strip() and err.en.strip() and err.vi != err.en
        for lang in ("vi", "en"):
            wanted = {name for _, name, _, _ in Formatter().parse(catalogue()[err.code][lang])
                      if name}
            missing = {n for n in wanted if err.params.get(n) is None}
            assert not missing, (err.code, lang, missing)
        d = err.to_dict()
        assert d["code"] == err.code and d["message_vi"] == err.vi and d["message_en"] == err.en
    assert exc.errors, "a refusal names at least one error"


def codes(exc: ValidationFailed) -> set[tuple[str, str]]:
    return {(e.code, e.params.get("field")) for e in exc.errors}


def cases(pick: Any) -> list[Any]:
    """pytest params ``(form, item)`` for every form and every item ``pick(form)`` yields."""
    out = []
    for form in FORMS:
        for item in pick(form):
            if isinstance(item, dict):  # a form rule
                name = f"{item['rule']}({','.join(item['fields'])})"
            else:
                name = item if isinstance(item, str) else item.name
            out.append(pytest.param(form, item, id=f"{fid(form)}:{name}"))
    return out


# -- completeness ------------------------------------------------------------------------


def test_every_form_version_has_an_example():
    assert set(VALID) == set(REG.forms)


@pytest.mark.parametrize("form", FORMS, ids=fid)
def test_example_fills_every_field(form):
    assert set(VALID[form.key]) == {f.name for f in form.fields}


# -- valid records pass ------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=fid)
def test_valid_record_passes(form):
    record = valid(form)
    assert FORMSET.validate(form.id, form.version, record) == record


@pytest.mark.parametrize("form", FORMS, ids=fid)
def test_minimal_record_passes(form):
    record = minimal(form)
    assert FORMSET.validate(form.id, form.version, record) == record


@pytest.mark.parametrize("form", FORMS, ids=fid)
def test_blank_optional_fields_are_dropped(form):
    record = minimal(form)
    blanks = {f.name: "  " for f in form.fields if f.name not in record and not f.relevant}
    assert FORMSET.validate(form.id, form.version, {**record, **blanks}) == record


# -- missing, unknown, wrong type ------------------------------------------------------------


@pytest.mark.parametrize(("form", "name"), cases(
    lambda f: [x.name for x in f.fields if x.required and not x.relevant]))
def test_missing_required_field(form, name):
    record = valid(form)
    del record[name]
    assert ("field_required", name) in codes(failure(form, record))
    record[name] = None
    assert ("field_required", name) in codes(failure(form, record))


@pytest.mark.parametrize("form", FORMS, ids=fid)
def test_unknown_field(form):
    exc = failure(form, {**valid(form), "favourite_colour": "blue"})
    assert codes(exc) == {("field_unknown", "favourite_colour")}


@pytest.mark.parametrize("form", FORMS, ids=fid)
def test_record_that_is_not_an_object(form):
    exc = failure(form, ["not", "a", "record"])
    assert {e.code for e in exc.errors} == {"field_type"}


WRONG_TYPE = {"string": 42, "text": 42, "orgunit": 42, "uuid": 42, "ref": 42, "code": 7,
              "date": 20250101, "partial_date": 1990, "month": 202501, "integer": "3",
              "number": "3.5", "boolean": "yes", "personal_id": 36190004512}


@pytest.mark.parametrize(("form", "fdef"), cases(lambda f: f.fields))
def test_wrong_type(form, fdef: FieldDef):
    exc = failure(form, {**valid(form), fdef.name: WRONG_TYPE[fdef.type]})
    assert codes(exc) == {("field_type", fdef.name)}


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type == "integer"]))
def test_integer_refuses_floats_and_booleans(form, fdef: FieldDef):
    for value in (2.5, True):
        exc = failure(form, {**valid(form), fdef.name: value})
        assert codes(exc) == {("field_type", fdef.name)}


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type in {"uuid", "ref"}]))
def test_malformed_uuid(form, fdef: FieldDef):
    exc = failure(form, {**valid(form), fdef.name: "not-a-uuid"})
    assert codes(exc) == {("field_type", fdef.name)}


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type == "code"]))
def test_unknown_code(form, fdef: FieldDef):
    exc = failure(form, {**valid(form), fdef.name: "no_such_code"})
    assert codes(exc) == {("code_unknown", fdef.name)}
    err = exc.errors[0]
    # the field's label, never its key or its list's id (issue 15)
    assert "no_such_code" in err.vi and fdef.label["vi"] in err.vi and fdef.label["en"] in err.en
    assert f"({fdef.name})" not in err.vi


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type == "code" and REG.choices(x) !=
               REG.codelist(x.codelist).active_codes()]))
def test_code_not_allowed_in_this_field(form, fdef: FieldDef):
    allowed = {c.code for c in REG.choices(fdef)}
    refused = [c for c in REG.codelist(fdef.codelist).active_codes() if c.code not in allowed]
    assert refused
    for code in refused:
        exc = failure(form, {**valid(form), fdef.name: code.code})
        assert ("code_not_allowed", fdef.name) in codes(exc)


# -- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type in {"date", "partial_date"}
               and x.options.get("max") == "today"]))
def test_date_in_future(form, fdef: FieldDef):
    for value in ("2999-01-01", "2999") if fdef.type == "partial_date" else ("2999-01-01",):
        exc = failure(form, {**valid(form), fdef.name: value})
        assert ("date_future", fdef.name) in codes(exc)


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type in {"date", "partial_date"}]))
def test_invalid_date(form, fdef: FieldDef):
    for value in ("2025-02-30", "14/03/2025", "2025-3-1", "1850-01-01"):
        exc = failure(form, {**valid(form), fdef.name: value})
        assert codes(exc) == {("date_invalid", fdef.name)}, value


def test_expected_delivery_date_may_be_in_the_future():
    form = REG.form("pregnancy")
    record = {**valid(form), "expected_date": "2999-01-01"}
    assert FORMSET.validate("pregnancy", 1, record) == record


def test_birth_date_may_be_a_year_alone():
    form = REG.form("member")
    assert FORMSET.validate("member", 1, {**minimal(form), "birth_date": "1948"})
    exc = failure(form, {**minimal(form), "birth_date": "48"})
    assert codes(exc) == {("date_invalid", "birth_date")}


# -- ranges, lengths, patterns -----------------------------------------------------------


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.type == "integer"]))
def test_integer_range(form, fdef: FieldDef):
    low, high = fdef.options["min"], fdef.options["max"]
    for value in (low, high):
        assert FORMSET.validate(form.id, form.version, {**valid(form), fdef.name: value})
    for value in (low - 1, high + 1):
        exc = failure(form, {**valid(form), fdef.name: value})
        assert codes(exc) == {("field_range", fdef.name)}


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if "max_length" in x.options and "pattern" not in x.options]))
def test_too_long(form, fdef: FieldDef):
    exc = failure(form, {**valid(form), fdef.name: "x" * (fdef.options["max_length"] + 1)})
    assert codes(exc) == {("field_too_long", fdef.name)}
    assert str(fdef.options["max_length"]) in exc.errors[0].vi


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if "pattern" in x.options]))
def test_pattern(form, fdef: FieldDef):
    exc = failure(form, {**valid(form), fdef.name: "??"})
    assert codes(exc) == {("field_pattern", fdef.name)}


CARD_FORMS = (REG.form("member", 1), REG.form("member", 2), REG.form("change_info"))


@pytest.mark.parametrize("value", ["HS4010123456789", "DN4790123456789", "0123456789",
                                   " 7912345678 "])
def test_bhyt_number_accepted(value):
    for form in CARD_FORMS:
        out = FORMSET.validate(form.id, form.version, {**minimal(form), "bhyt_number": value})
        assert out["bhyt_number"] == value.strip()


@pytest.mark.parametrize("value", ["hs4010123456789", "HS401012345678", "HS40101234567890",
                                   "012345678", "01234567890", "H54010123456789",
                                   "0123 456789", "0123456789012"])
def test_bhyt_number_refused(value):
    for form in CARD_FORMS:
        exc = failure(form, {**minimal(form), "bhyt_number": value})
        assert {c for c, _ in codes(exc)} <= {"field_pattern", "field_too_long"}
        assert {f for _, f in codes(exc)} == {"bhyt_number"}


def test_a_card_carrying_the_identification_number_from_member_v2_on():
    """Newer cards print the 12-digit personal identification number."""
    v1, v2 = REG.form("member", 1), REG.form("member", 2)
    assert FORMSET.validate("member", 2, {**minimal(v2), "bhyt_number": "036190004512"})
    assert codes(failure(v1, {**minimal(v1), "bhyt_number": "036190004512"})) == {
        ("field_pattern", "bhyt_number")}


def test_household_number_with_continuation_sheet():
    form = REG.form("household")
    for number in ("7", "100", "100.1", "12345.123"):
        assert FORMSET.validate("household", 1, {**minimal(form), "number": number})
    for number in ("100.", "A12", "100.1.2", "123456"):
        assert ("field_pattern", "number") in codes(failure(form, {**minimal(form),
                                                                   "number": number}))


# -- relevance ---------------------------------------------------------------------------


def make_false(form: FormDef, cond: dict[str, Any], record: dict[str, Any]) -> None:
    """Change ``record`` so that ``cond`` no longer holds, using valid values only."""
    if "all" in cond:
        make_false(form, cond["all"][0], record)
        return
    name = cond["field"]
    target = form.field(name)
    if "present" in cond:
        if cond["present"]:
            record.pop(name, None)
        else:
            record[name] = valid(form)[name]
        return
    assert target is not None and target.codelist, "conditions on non-code fields: extend me"
    choices = [c.code for c in REG.choices(target)]
    if "in" in cond:
        record[name] = next(c for c in choices if c not in cond["in"])
    else:
        record[name] = next(c for c in choices if c in cond["not_in"])


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.relevant]))
def test_field_not_relevant(form, fdef: FieldDef):
    record = valid(form)
    assert condition_holds(fdef.relevant, record)
    make_false(form, fdef.relevant, record)
    assert not condition_holds(fdef.relevant, record)
    exc = failure(form, record)
    assert ("field_not_relevant", fdef.name) in codes(exc)
    # without the field, the record is fine
    del record[fdef.name]
    assert FORMSET.validate(form.id, form.version, record) == record


@pytest.mark.parametrize(("form", "fdef"), cases(
    lambda f: [x for x in f.fields if x.relevant and x.required]))
def test_required_when_relevant(form, fdef: FieldDef):
    record = valid(form)
    del record[fdef.name]
    assert codes(failure(form, record)) == {("field_required", fdef.name)}


def test_method_start_only_with_a_method():
    form = REG.form("woman_status")
    record = {**minimal(form), "current_method": "none"}
    del record["method_start"]
    assert FORMSET.validate("woman_status", 1, record) == record


def test_expected_date_only_while_pregnant():
    form = REG.form("pregnancy")
    record = {**valid(form), "outcome": "miscarriage"}
    assert codes(failure(form, record)) == {("field_not_relevant", "expected_date")}


# -- form rules --------------------------------------------------------------------------


def break_rule(form: FormDef, rule: dict[str, Any]) -> dict[str, Any]:
    record = valid(form)
    names = rule["fields"]
    if rule["rule"] == "one_of_required":
        for n in names:
            record.pop(n, None)
    elif rule["rule"] == "different":
        for n in names[:-1]:
            record[n] = record[names[-1]]
    elif rule["rule"] == "not_before":
        record[names[0]], record[names[1]] = "2000-01-01", "2001-01-01"
    else:
        raise AssertionError(f"no breaker for rule {rule['rule']}: extend me")
    return record


@pytest.mark.parametrize(("form", "rule"), cases(
    lambda f: [r for r in f.raw.get("rules", []) if r["rule"] not in WARNING_RULES]))
def test_rule_is_enforced(form, rule):
    exc = failure(form, break_rule(form, rule))
    assert codes(exc) == {(f"rule_{rule['rule']}", rule["fields"][0])}
    err = exc.errors[0]
    for name in rule["fields"]:
        f = form.field(name)
        assert f.label["vi"] in err.vi and f.label["en"] in err.en


def test_every_rule_kind_is_used_somewhere():
    used = {r["rule"] for f in FORMS for r in f.raw.get("rules", [])}
    assert used == {"one_of_required", "different", "not_before", "personal_id_agrees"}


@pytest.mark.parametrize(("form", "rule"), cases(
    lambda f: [r for r in f.raw.get("rules", []) if r["rule"] in WARNING_RULES]))
def test_a_warning_rule_keeps_the_record_and_says_what_to_check(form, rule):
    """personal_id_agrees: another sex or year than the number says is a warning on the
    number's field; the record is valid and kept as it is."""
    number, sex, born = rule["fields"][:3]
    record = valid(form)
    validator = FORMSET.validator(form.id, form.version)
    assert validator.warnings(validator.validate(record)) == []
    other_sex = next(c.code for c in REG.codelist("sex").codes if c.code != record[sex])
    record = {**record, sex: other_sex, born: "1975"}
    kept = validator.validate(record)
    assert kept[sex] == other_sex and kept[born] == "1975"
    found = validator.warnings(kept)
    assert {(w.code, w.params["field"]) for w in found} == {
        ("personal_id_sex_mismatch", number), ("personal_id_year_mismatch", number)}
    for w in found:
        assert record[number] in w.vi and record[number] in w.en and "{" not in w.vi + w.en
    assert "1975" in found[1].vi and "1990" in found[1].vi
    # an edit that writes none of the rule's fields does not repeat the warning
    assert validator.warnings(kept, written={"education"}) == []
    assert len(validator.warnings(kept, written={sex})) == 2


def test_not_before_accepts_equal_dates_and_year_only_birth():
    member = REG.form("member", 1)
    same = {**valid(member), "birth_date": "2024-01-05", "registered_on": "2024-01-05"}
    assert FORMSET.validate("member", 1, same)
    year = {**valid(member), "birth_date": "2024", "registered_on": "2024-01-05"}
    assert FORMSET.validate("member", 1, year)
    before = {**valid(member), "birth_date": "2024", "registered_on": "2023-12-31"}
    assert codes(failure(member, before)) == {("rule_not_before", "registered_on")}


def test_different_rules_skip_absent_fields():
    marriage = REG.form("marriage")
    assert FORMSET.validate("marriage", 1, {**COMMON, "spouse_name": "Lê Văn Nam"})
    assert codes(failure(marriage, {**COMMON, "spouse_id": MEMBER})) == {
        ("rule_different", "spouse_id")}


def test_every_error_of_a_record_is_reported_at_once():
    form = REG.form("birth")
    record = {**valid(form), "sex": "boy", "birth_order": 0, "event_date": "2999-01-01",
              "extra": 1}
    del record["child_id"]
    assert codes(failure(form, record)) == {
        ("code_unknown", "sex"), ("field_range", "birth_order"),
        ("date_future", "event_date"), ("field_unknown", "extra"),
        ("field_required", "child_id")}


def test_strings_are_trimmed_and_names_collapsed():
    form = REG.form("member", 1)
    out = FORMSET.validate("member", 1, {**minimal(form), "full_name": "  Nguyễn   Văn  An "})
    assert out["full_name"] == "Nguyễn Văn An"


def test_messages_are_vietnamese_first():
    form = REG.form("member", 1)
    record = minimal(form)
    del record["full_name"]
    err = failure(form, record).errors[0]
    assert err.vi == 'Chưa điền "Họ và tên" (bắt buộc)'
    assert err.en == '"Full name" is required'
    assert err.params["field"] == "full_name"  # the key travels beside the words


# -- arbitrary input never crashes -------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)


@st.composite
def mangled(draw: st.DrawFn, form: FormDef) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)  # anything at all, often not an object
    record = valid(form)
    names = [f.name for f in form.fields]
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        record.pop(name, None)
    values = JSON | st.sampled_from(list(valid(form).values())) | st.sampled_from(
        ["", " ", "2999-01-01", "1900", "none", "0" * 10, "2025-02-29", "\x00", "{field}"])
    keys = st.sampled_from(names) | st.text(max_size=8)
    record.update(draw(st.dictionaries(keys, values, max_size=4)))
    return record


@pytest.mark.parametrize("form", FORMS, ids=fid)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validation_never_crashes(form, data):
    record = data.draw(mangled(form))
    try:
        out = FORMSET.validate(form.id, form.version, record)
    except ValidationFailed as exc:
        check_messages(exc)
    except A0Error as exc:  # pragma: no cover - not expected from validate, but allowed
        assert exc.vi and exc.en
    else:
        assert isinstance(out, dict)
        assert set(out) <= {f.name for f in form.fields}
        assert None not in out.values()
