"""The personal identification number (số định danh cá nhân), against numbers built by hand.

PPP C YY RRRRRR: birth-registration province (Circular 07/2016/TT-BCA, appendix I),
century and sex, year of birth, six random digits. ``087084000999`` is the worked
example published with the circular's explanations (Đồng Tháp, a man born 1984).
"""

from __future__ import annotations

import uuid

import pytest

from a0core import personal_id
from a0core.errors import ValidationFailed
from a0core.forms import FormSet, provinces_of
from a0core.schemas import registry

REG = registry()
PROVINCES = provinces_of(REG.form("member", 2).field("id_number"), REG)
THIS_YEAR = 2026


@pytest.mark.parametrize(("number", "province", "sex", "year"), [
    ("087084000999", "087", "male", 1984),     # Đồng Tháp, the published example
    ("001090012345", "001", "male", 1990),     # Hà Nội
    ("010305123456", "010", "female", 2005),   # Lào Cai, a girl born in 2005
    ("096199000001", "096", "female", 1999),   # Cà Mau
    ("079201000123", "079", "male", 2001),     # Hồ Chí Minh
    ("002100000000", "002", "female", 1900),   # Hà Giang, the first year of the 1900s
    ("066226000000", "066", "male", 2026),     # born this year
])
def test_valid_numbers(number: str, province: str, sex: str, year: int) -> None:
    assert personal_id.problems(number, PROVINCES, THIS_YEAR) == []
    assert personal_id.parse(number) == (province, sex, year)


@pytest.mark.parametrize(("number", "codes"), [
    ("003090012345", ["personal_id_province"]),   # 003: between Hà Giang 002 and Cao Bằng 004
    ("000090012345", ["personal_id_province"]),
    ("097190000001", ["personal_id_province"]),   # after Cà Mau 096
    ("100190000001", ["personal_id_province"]),
    ("053190000001", ["personal_id_province"]),   # a gap of the table
    ("001490012345", ["personal_id_century"]),    # 4: a man born in 2190
    ("001890012345", ["personal_id_century"]),
    ("001227000000", ["personal_id_century"]),    # born next year
    ("005527000000", ["personal_id_province", "personal_id_century"]),
    ("00109001234", ["personal_id_format"]),      # 11 digits
    ("0010900123456", ["personal_id_format"]),    # 13 digits
    ("00109001234a", ["personal_id_format"]),
    ("", ["personal_id_format"]),
    ("٠٠١٠٩٠٠١٢٣٤٥", ["personal_id_format"]),    # Arabic-Indic digits are not digits here
])
def test_invalid_numbers(number: str, codes: list[str]) -> None:
    assert personal_id.problems(number, PROVINCES, THIS_YEAR) == codes


def test_the_63_pre_2025_codes_and_no_other() -> None:
    assert len(PROVINCES) == 63
    assert {"001", "002", "004", "031", "046", "048", "079", "092", "096"} <= PROVINCES
    assert not {"003", "005", "007", "009", "013", "097", "099"} & PROVINCES


@pytest.mark.parametrize(("number", "sex", "born", "codes"), [
    ("001090012345", "male", "1990-05-12", []),
    ("001090012345", "male", "1990", []),
    ("001090012345", "female", "1990-05-12", ["personal_id_sex_mismatch"]),
    ("001090012345", "male", "1991-05-12", ["personal_id_year_mismatch"]),
    ("001190012345", "male", "1989", ["personal_id_sex_mismatch", "personal_id_year_mismatch"]),
    ("010101123456", "female", "2001-03-04", ["personal_id_year_mismatch"]),  # 1 = 1900s
    ("010301123456", "female", "2001-03-04", []),
    ("010301123456", None, None, []),
])
def test_disagreements_with_the_record(number: str, sex: str | None, born: str | None,
                                       codes: list[str]) -> None:
    assert personal_id.disagreements(number, sex, born) == codes


@pytest.mark.parametrize(("a", "b", "near"), [
    ("015087002245", "015087002254", True),    # last two digits swapped
    ("017099003108", "017099003198", True),    # one digit
    ("017099003108", "117099003108", True),
    ("008090000517", "008090000771", False),   # two digits, not neighbours swapped
    ("008090000517", "008090000517", False),   # the same number is not "near"
    ("008090000517", "00809000051", False),
])
def test_one_slip_apart(a: str, b: str, near: bool) -> None:
    assert personal_id.near(a, b) is near
    assert personal_id.near(b, a) is near


def test_the_member_form_normalises_refuses_and_warns() -> None:
    forms = FormSet(REG)
    record = {"id": str(uuid.uuid4()), "household_id": str(uuid.uuid4()),
              "full_name": "Lò Thị Ửng", "relation": "spouse", "sex": "female",
              "birth_date": "1968", "ethnicity": "thai", "marital_status": "married",
              "residence_status": "present"}
    validator = forms.validator("member", 2)
    kept = validator.validate({**record, "id_number": "015 168 002245"})
    assert kept["id_number"] == "015168002245" and validator.warnings(kept) == []
    with pytest.raises(ValidationFailed) as refused:
        validator.validate({**record, "id_number": "013168002245"})
    assert [(e.code, e.params["field"]) for e in refused.value.errors] == [
        ("personal_id_province", "id_number")]
    warned = validator.validate({**record, "id_number": "015068002245"})  # a man's number
    assert [w.code for w in validator.warnings(warned)] == ["personal_id_sex_mismatch"]
    # the card is the identification number on newer cards: checked the same way
    card = validator.validate({**record, "bhyt_number": "015167002245"})
    assert [(w.code, w.params["field"]) for w in validator.warnings(card)] == [
        ("personal_id_year_mismatch", "bhyt_number")]
    both = validator.validate({**record, "id_number": "015168002245",
                               "bhyt_number": "015168002254"})
    assert [w.code for w in validator.warnings(both)] == ["personal_id_card_mismatch"]
    with pytest.raises(ValidationFailed):  # version 1 has no such field
        forms.validate("member", 1, {**record, "id_number": "015168002245"})
