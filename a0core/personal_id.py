"""The personal identification number (số định danh cá nhân): what its 12 digits say.

Structure (Decree 137/2015/NĐ-CP art. 13; Circular 07/2016/TT-BCA art. 7, amended by
Circular 59/2021/TT-BCA; kept by the Law on Identification 2023, art. 12)::

    PPP C YY RRRRRR
    PPP     province where the birth was registered (schemas/codelists/id_province.json)
    C       century and sex: 0/1 born 1900–1999 male/female, 2/3 2000–2099,
            4/5 2100–2199, 6/7 2200–2299, 8/9 2300–2399
    YY      last two digits of the year of birth
    RRRRRR  random

So a number can be *invalid* (not 12 digits, a province code that does not exist,
a century that puts the birth in the future) — a field error, the record is
refused — or valid but *disagree* with the record: another sex, another year of
birth. Which side is wrong is not known, so a disagreement is a warning the
collaborator sees (:func:`disagreements`), and the record is kept.

Duplicate detection (:mod:`server.sync.duplicates.scoring`) uses :func:`near`: one
digit mistyped or two neighbours swapped is still the same number.

Pure Python, used by the app and the server alike.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import NamedTuple

LENGTH = 12
_SEPARATORS = re.compile(r"[\s.\-]")
_DIGITS = re.compile(r"^[0-9]{12}$")


class PersonalId(NamedTuple):
    province: str  # three digits
    sex: str       # male | female
    year: int      # year of birth


def normalise(text: str) -> str:
    """What a collaborator typed, without the spaces, dots or dashes used to group digits."""
    return _SEPARATORS.sub("", text)


def parse(number: str) -> PersonalId | None:
    """The fields of a 12-digit number, or ``None`` if it is not 12 digits."""
    if not isinstance(number, str) or not _DIGITS.match(number):
        return None
    century = int(number[3])
    return PersonalId(number[:3], "female" if century % 2 else "male",
                      1900 + 100 * (century // 2) + int(number[4:6]))


def problems(number: str, provinces: Collection[str], this_year: int) -> list[str]:
    """Why ``number`` cannot be a personal identification number (error codes), or ``[]``."""
    found = parse(number)
    if found is None:
        return ["personal_id_format"]
    out = []
    if found.province not in provinces:
        out.append("personal_id_province")
    if found.year > this_year:
        out.append("personal_id_century")
    return out


def disagreements(number: str, sex: str | None, birth_date: str | None) -> list[str]:
    """Warning codes where a valid number and the record's sex or year of birth differ."""
    found = parse(number)
    if found is None:
        return []
    out = []
    if sex in ("male", "female") and sex != found.sex:
        out.append("personal_id_sex_mismatch")
    year = (birth_date or "")[:4]
    if year.isdigit() and int(year) != found.year:
        out.append("personal_id_year_mismatch")
    return out


def near(a: str, b: str) -> bool:
    """Two different numbers one typing slip apart: one digit, or two neighbours swapped."""
    if len(a) != len(b) or a == b:
        return False
    first = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    if a[first + 1:] == b[first + 1:]:
        return True  # one digit
    return a[first + 2:] == b[first + 2:] and a[first:first + 2] == b[first + 1::-1][:2]
