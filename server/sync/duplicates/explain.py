"""Why a pair was proposed, in words a commune officer reads at a glance. No Flask.

:func:`explain` turns the reasons :func:`~server.sync.duplicates.scoring.score_members`
stored with a pair into rows — family name, middle name, given name, date of
birth, sex, numbers, household — each with what the two records hold, what the
comparison found (Vietnamese and English) and whether that part **agrees**,
agrees **partly** (an abbreviation, a sound-alike spelling, a middle name left
out, a date a few days off), **disagrees**, or cannot be told (**unknown**).
Household pairs keep the plain list of their reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AGREE, PARTLY, DISAGREE, UNKNOWN = "agree", "partly", "disagree", "unknown"

NAME_WORDS: dict[str, tuple[str, str, str]] = {  # level: (vi, en, how far it agrees)
    "same": ("giống nhau", "the same", AGREE),
    "unmarked": ("giống nhau (một bên gõ không dấu)", "the same (one typed without marks)",
                 AGREE),
    "marks": ("khác dấu", "other diacritics", PARTLY),
    "initial": ("một bên viết tắt", "abbreviated on one side", PARTLY),
    "sound": ("đọc giống nhau, viết khác", "sound alike, spelt differently", PARTLY),
    "typo": ("lệch một chữ cái", "one letter apart", PARTLY),
    "close": ("gần giống", "similar", PARTLY),
    "missing": ("một bên không ghi", "left out on one side", PARTLY),
    "none": ("cả hai không có", "neither has one", UNKNOWN),
    "differ": ("khác nhau", "different", DISAGREE),
}
ORDER_WORDS = {"reordered": ("một bên ghi tên trước họ", "given name written first on one side"),
               "joined": ("viết liền hoặc tách khác nhau", "spaced differently"),
               "no_family": ("một bên không ghi họ", "family name left out on one side")}
BIRTH_WORDS: dict[str, tuple[str, str, str]] = {
    "same_date": ("trùng ngày sinh", "the same date", AGREE),
    "swapped_day_month": ("ngày và tháng đổi chỗ", "day and month swapped", PARTLY),
    "day_slip": ("lệch một chữ số ở ngày", "a day digit slipped", PARTLY),
    "month_slip": ("lệch một chữ số ở tháng", "a month digit slipped", PARTLY),
    "days_apart": ("lệch vài ngày", "a few days apart", PARTLY),
    "weeks_apart": ("lệch dưới nửa tháng", "under two weeks apart", PARTLY),
    "same_year": ("cùng năm (một bên chỉ ghi năm)", "the same year (one gives the year only)",
                  PARTLY),
    "year_off_same_day": ("lệch một năm, cùng ngày và tháng",
                          "a year apart, the same day and month", PARTLY),
    "year_digits_swapped": ("hai số cuối của năm đổi chỗ",
                            "the year's last two digits swapped", PARTLY),
    "year_only_off_by_one": ("chỉ ghi năm, lệch một năm", "years only, one year apart",
                             PARTLY),
    "year_off_by_one": ("lệch một năm, khác ngày", "a year apart, another day", DISAGREE),
    "other_date_same_year": ("cùng năm, khác ngày", "the same year, another day", DISAGREE),
    "different_year": ("khác năm sinh", "other years of birth", DISAGREE),
    "unknown": ("không rõ", "unknown", UNKNOWN),
}
NUMBER_WORDS: dict[str, tuple[str, str, str]] = {
    "same": ("trùng số", "the same number", AGREE),
    "near": ("lệch một chữ số (gõ nhầm)", "one digit apart (a slip)", PARTLY),
    "different": ("hai số khác nhau: hai người", "two different numbers: two people",
                  DISAGREE),
    "unknown": ("không đủ để so sánh", "not on both records", UNKNOWN),
}
LABELS = {"family": ("Họ", "Family name"), "middle": ("Tên đệm", "Middle name"),
          "given": ("Tên", "Given name"), "order": ("Cách viết tên", "How the name is written"),
          "birth": ("Ngày sinh", "Date of birth"), "sex": ("Giới tính", "Sex"),
          "ethnicity": ("Dân tộc", "Ethnic group"),
          "id_number": ("Số định danh cá nhân", "Personal identification number"),
          "bhyt": ("Số BHYT / BHXH", "Health / social insurance number"),
          "fellows": ("Người cùng hộ trùng tên", "Household members in common"),
          "household": ("Hộ", "Household")}


@dataclass(frozen=True)
class Reason:
    """One row: ``label``, ``what`` (the finding) in vi/en, the two sides' values, and
    ``agreement`` (``agree``, ``partly``, ``disagree``, ``unknown``)."""

    key: str
    label: dict[str, str]
    what: dict[str, str]
    agreement: str
    a: str = ""
    b: str = ""


def _parts(full_name: str) -> dict[str, str]:
    """The words of a name as written, split the usual way (family, middle, given)."""
    words = " ".join(full_name.split()).split(" ") if full_name.strip() else []
    if len(words) < 2:
        return {"family": "", "middle": "", "given": words[0] if words else ""}
    return {"family": words[0], "middle": " ".join(words[1:-1]), "given": words[-1]}


def _row(key: str, words: tuple[str, str, str], a: str = "", b: str = "") -> Reason:
    vi, en, agreement = words
    return Reason(key, dict(zip(("vi", "en"), LABELS[key], strict=True)),
                  {"vi": vi, "en": en}, agreement, a, b)


def explain(reasons: Mapping[str, Any], a: Mapping[str, Any],
            b: Mapping[str, Any]) -> list[Reason]:
    """The rows of a member pair's reasons; ``a``/``b``: the two records (``full_name``,
    ``birth_date``, ``sex``, ``id_number``, ``bhyt_number``, as shown)."""
    if "given" not in reasons:  # a pair scored before issue 14: nothing to lay out
        return []
    pa, pb = _parts(str(a.get("full_name") or "")), _parts(str(b.get("full_name") or ""))
    rows = [_row(part, NAME_WORDS.get(reasons[part], NAME_WORDS["differ"]), pa[part], pb[part])
            for part in ("family", "middle", "given") if part in reasons]
    if reasons.get("order") in ORDER_WORDS:
        vi, en = ORDER_WORDS[reasons["order"]]
        rows.append(_row("order", (vi, en, PARTLY), str(a.get("full_name") or ""),
                         str(b.get("full_name") or "")))
    rows.append(_row("birth", BIRTH_WORDS.get(reasons.get("birth", "unknown"),
                                              BIRTH_WORDS["unknown"]),
                     vn_date(str(a.get("birth_date") or "")),
                     vn_date(str(b.get("birth_date") or ""))))
    rows.append(_row("sex", ("giống nhau", "the same", AGREE) if reasons.get("sex") == "same"
                     else ("khác nhau", "different", DISAGREE)))
    if reasons.get("ethnicity") == "different":
        rows.append(_row("ethnicity", ("khác nhau", "different", DISAGREE)))
    for key, field in (("id_number", "id_number"), ("bhyt", "bhyt_number")):
        rows.append(_row(key, NUMBER_WORDS.get(reasons.get(key, "unknown"),
                                               NUMBER_WORDS["unknown"]),
                         str(a.get(field) or ""), str(b.get(field) or "")))
    if reasons.get("household") == "twins":
        rows.append(_row("household", ("cùng hộ, cùng ngày sinh, khác tên: có thể là sinh đôi",
                                       "one household, one birth date, two names: twins?",
                                       DISAGREE)))
    elif reasons.get("household") == "same":
        rows.append(_row("household", ("cùng một hộ", "the same household", UNKNOWN)))
    elif "fellows" in reasons:
        n = int(reasons["fellows"])
        rows.append(_row("fellows", (f"{n} người", f"{n} in common", AGREE) if n else
                         ("không ai", "nobody", UNKNOWN)))
    return rows


def vn_date(text: str) -> str:
    """A stored date of birth as people write it: ``1990-03-12`` → ``12/03/1990``; a
    year alone stays as it is."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[:4]}"
    return text
