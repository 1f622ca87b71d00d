"""The report forms, laid out like the official ones of Thông tư 01/2022/TT-BYT.

What the project knows of the official forms (from the circular's appendices as
published): the district's quarterly report **Biểu 01-DSH** (Phụ lục IV) lists,
in a table "Tên chỉ tiêu | Đơn vị tính | Toàn huyện | Xã … | Xã …" (columns A, B,
1, 2, 3 …), the rows 1 households at the end of the period (of which family
households), 2 population (nhân khẩu thực tế thường trú), 3 married women
15–49, 4 births (boys, girls, second child, third or later child, to mothers
under 20), 5 deaths, 6 persons marrying (of which child marriages and
consanguineous marriages), 7 couples counselled and examined before marriage,
8 persons divorcing, 9 persons moving in from another commune; it is due 15 days
after the period. The commune forms of Phụ lục II (Biểu …-DSX) open with the same
"households and persons" part and are due 5 working days after the period. Every
other row here — and the exact row numbers of the commune's monthly form — is the
project's assumption, marked as such on the report (:attr:`Row.official`), until
someone checks it against the printed circular. Rows the project does not collect
(child marriage, consanguinity, premarital counselling) are shown, empty, so the
form keeps its shape.

A report covers a month (``2026-11``) or a quarter (``2026-Q4``): flows and
reporting counts add up over its months, stocks are those at its end, and the
ratios are recomputed from the sums (:func:`period_values`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from a0core import p0
from a0core.errors import A0Error
from a0core.schemas import registry
from server import formats
from server.rollups.indicators import CATALOGUE, UNSTATED, add_into, with_derived

PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")
UNITS = {"households": ("Hộ", "Households"), "persons": ("Người", "Persons"),
         "couples": ("Cặp", "Couples"), "percent": ("%", "%"), "times": ("Lượt", "Times"),
         "areas": ("Địa bàn", "Areas"), "pieces": ("Đơn vị", "Units")}
# the label of ``distributed.unstated`` (the logistics report's wording)
UNSTATED_LABEL = ("Không rõ nguồn", "Source not stated")


@dataclass(frozen=True)
class Period:
    """A month or a quarter."""

    text: str
    months: tuple[str, ...]

    @property
    def last(self) -> str:
        return self.months[-1]

    def label(self, lang: str = "vi") -> str:
        if len(self.months) == 1:
            shown = formats.month(self.last, lang)
            return f"Tháng {shown}" if lang == "vi" else shown
        quarter, year = self.text[-1], self.text[:4]
        return f"Quý {quarter} năm {year}" if lang == "vi" else f"Q{quarter} {year}"

    def span(self, lang: str = "vi") -> tuple[str, str]:
        """First and last day, as a person reads them (01/10/2026; 1 Oct 2026)."""
        first, last = p0.first_day(self.months[0]), p0.last_day(self.last)
        return formats.day(first, lang), formats.day(last, lang)


def parse_period(text: str) -> Period:
    found = PERIOD.match(text or "")
    if not found:
        raise A0Error("report_period_invalid", record=(text or "")[:20])
    year, month, quarter = found.groups()
    if month:
        return Period(text, (f"{year}-{month}",))
    first = 3 * (int(quarter) - 1) + 1
    return Period(text, tuple(f"{year}-{m:02d}" for m in range(first, first + 3)))


Compute = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Row:
    """One line of a report form: its number, label, unit, and what it shows."""

    number: str
    vi: str
    en: str
    unit: str = "persons"
    key: str | None = None         # the indicator shown
    compute: Compute | None = None  # or a value computed from the cell
    official: bool = False          # known from the official form; else assumed
    collected: bool = True          # False: the project does not collect it
    depth: int = 0                  # 0 a row, 1 "of which"

    @property
    def id(self) -> str:
        return (self.key or self.number or self.vi).replace(".", "-").replace(" ", "-")

    def label(self, lang: str = "vi") -> str:
        return self.vi if lang == "vi" else self.en

    def unit_label(self, lang: str = "vi") -> str:
        return UNITS[self.unit][0 if lang == "vi" else 1]

    def value(self, cell: Mapping[str, Any]) -> Any:
        """A count, 0 when the cell does not hold it; a rate, None when the cell does
        not hold it: it had nothing to divide by (:func:`with_derived`), which is not
        a rate of 0 (shown "x", :data:`server.formats.NOT_COMPUTABLE`)."""
        if not self.collected:
            return None
        if self.compute is not None:
            return self.compute(cell)
        if self.unit == "percent":
            return cell.get(self.key or "")
        return cell.get(self.key or "", 0)


@dataclass(frozen=True)
class Section:
    number: str
    vi: str
    en: str
    rows: tuple[Row, ...] = field(default_factory=tuple)

    def label(self, lang: str = "vi") -> str:
        return self.vi if lang == "vi" else self.en


def _codes(codelist: str, **attrs: Any) -> list[tuple[str, str, str]]:
    return [(c.code, c.vi, c.en) for c in registry().codelist(codelist).active_codes()
            if all(c.attrs.get(k) == v for k, v in attrs.items())]


def _by(prefix: str, codelist: str, number: str, unit: str = "persons",
        **attrs: Any) -> tuple[Row, ...]:
    """``prefix.<code>`` for each code of a list, as "of which" rows."""
    return tuple(Row(f"{number}.{i}", vi, en, unit, f"{prefix}.{code}", depth=1)
                 for i, (code, vi, en) in enumerate(_codes(codelist, **attrs), 1))


def _moved_in_from_elsewhere(cell: Mapping[str, Any]) -> Any:
    return cell.get("moves_in", 0) - cell.get("moves_in.same_commune", 0)


def sections() -> tuple[Section, ...]:
    """The rows of every report form, section by section (a printed page each)."""
    methods = [(c, vi, en) for c, vi, en in _codes("contraceptive_method")
               if not registry().codelist("contraceptive_method").get(c).attrs.get("is_none")]
    supplied = _codes("contraceptive_method", distributable=True)
    # hand-outs recorded before the form had a source (version 1) are shown as such, as
    # the logistics report does, so that a method's sub-rows add up to its row
    sources = [*_codes("distribution_source"), (UNSTATED, *UNSTATED_LABEL)]
    distributed: list[Row] = []
    for i, (code, vi, en) in enumerate(supplied, 1):
        distributed.append(Row(f"19.{i}", vi, en, "pieces", f"distributed.{code}", depth=1))
        distributed += [Row(f"19.{i}.{j}", f"{vi}: {svi.lower()}", f"{en}: {sen.lower()}",
                            "pieces", f"distributed.{source}.{code}", depth=1)
                        for j, (source, svi, sen) in enumerate(sources, 1)]
    return (
        Section("I", "Hộ và nhân khẩu", "Households and persons", (
            Row("1", "Tổng số hộ dân cư tính đến cuối kỳ", "Households at the end of the period",
                "households", "households", official=True),
            Row("1.1", "Trong đó: số hộ gia đình (dự án chưa phân biệt hộ tập thể: bằng tổng số)",
                "Of which family households (collective ones not told apart: the total)",
                "households", "households", official=True, depth=1),
            Row("2", "Tổng số nhân khẩu thực tế thường trú (dân số) tính đến cuối kỳ",
                "Usual residents (population) at the end of the period", key="population",
                official=True),
            Row("2.1", "Nam", "Male", key="population.male", depth=1),
            Row("2.2", "Nữ", "Female", key="population.female", depth=1),
            Row("2.3", "Người từ 60 tuổi trở lên", "Persons aged 60 or more",
                key="population.60plus", depth=1),
            Row("3", "Số nữ từ 15–49 tuổi có chồng tính đến cuối kỳ",
                "Married women aged 15–49 at the end of the period",
                key="women_married_15_49", official=True),
        )),
        Section("II", "Sinh", "Births", (
            Row("4", "Tổng số trẻ sinh ra trong kỳ", "Births in the period", key="births",
                official=True),
            Row("4.1", "Số trẻ em nam sinh ra", "Boys born", key="births.male", official=True,
                depth=1),
            Row("4.2", "Số trẻ em nữ sinh ra", "Girls born", key="births.female",
                official=True, depth=1),
            Row("4.3", "Số trẻ em sinh ra là con thứ 2", "Second births", key="births.order2",
                official=True, depth=1),
            Row("4.4", "Số trẻ em sinh ra là con thứ 3 trở lên", "Third or higher births",
                key="births.order3plus", official=True, depth=1),
            Row("4.5", "Số trẻ em sinh ra của phụ nữ dưới 20 tuổi", "Births to mothers under 20",
                key="births.mother_under20", official=True, depth=1),
            Row("4.6", "Tỷ số giới tính khi sinh (số trẻ trai/100 trẻ gái)",
                "Sex ratio at birth (boys per 100 girls)", "percent", "srb", depth=1),
        )),
        Section("III", "Chết, kết hôn, ly hôn và di cư", "Deaths, marriages, divorces, moves", (
            Row("5", "Số người chết trong kỳ", "Deaths in the period", key="deaths",
                official=True),
            Row("6", "Số người kết hôn trong kỳ", "Persons marrying in the period",
                key="marriages", official=True),
            Row("6.1", "Trong đó: số người tảo hôn", "Of which child marriages", official=True,
                collected=False, depth=1),
            Row("6.2", "Số người kết hôn cận huyết thống", "Consanguineous marriages",
                official=True, collected=False, depth=1),
            Row("7", "Số cặp kết hôn đã được tư vấn, khám sức khỏe trước khi kết hôn",
                "Couples counselled and examined before marriage", "couples", official=True,
                collected=False),
            Row("8", "Số người ly hôn trong kỳ", "Persons divorcing in the period",
                key="divorces", official=True),
            Row("9", "Số người chuyển đến từ xã khác trong kỳ",
                "Persons moving in from another commune", compute=_moved_in_from_elsewhere,
                key="moves_in", official=True),
            Row("10", "Số người chuyển đi trong kỳ", "Persons moving out", key="moves_out"),
            Row("11", "Số người chuyển hộ, tách hộ trong kỳ",
                "Persons changing household (splits, joins)", key="household_changes"),
        )),
        Section("IV", "Sử dụng biện pháp tránh thai", "Contraceptive use", (
            Row("12", "Số người đang sử dụng biện pháp tránh thai cuối kỳ",
                "Current contraceptive users at the end of the period", key="users"),
            *_by_methods("users", "12", methods),
            Row("13", "Trong đó: sử dụng biện pháp hiện đại", "Of which modern methods",
                key="users.modern", depth=1),
            Row("14", "Tỷ lệ sử dụng biện pháp tránh thai", "Contraceptive prevalence",
                "percent", "cpr"),
            Row("15", "Tỷ lệ sử dụng biện pháp tránh thai hiện đại",
                "Modern contraceptive prevalence", "percent", "mcpr"),
            Row("16", "Số người mới sử dụng biện pháp tránh thai trong kỳ", "New acceptors",
                key="new_acceptors"),
            *_by_methods("new_acceptors", "16", methods),
        )),
        Section("V", "Ngừng, chuyển đổi biện pháp và phương tiện tránh thai đã cấp",
                "Stops, switches and contraceptives handed out", (
            Row("17", "Số người ngừng sử dụng biện pháp tránh thai trong kỳ",
                "Persons who stopped a method", key="method_stops"),
            *_by("method_stops", "stop_reason", "17"),
            Row("18", "Số người chuyển đổi biện pháp tránh thai trong kỳ",
                "Persons who switched method", key="method_switches"),
            *_by_methods("method_switches", "18", methods),
            Row("19", "Số lượng phương tiện tránh thai cộng tác viên đã cấp",
                "Contraceptives handed out by collaborators", "pieces", None,
                compute=lambda c: sum(c.get(f"distributed.{m}", 0) for m, _, _ in supplied)),
            *distributed,
        )),
        Section("VI", "Sức khỏe sinh sản và chất lượng dân số",
                "Reproductive health and population quality", (
            Row("20", "Số phụ nữ đang mang thai cuối kỳ",
                "Women pregnant at the end of the period", key="pregnant"),
            Row("21", "Số phụ nữ mang thai mới phát hiện trong kỳ", "Pregnancies newly seen",
                key="pregnancies.new"),
            Row("22", "Số trường hợp kết thúc thai kỳ", "Pregnancy outcomes",
                key="pregnancy_outcomes"),
            *_by("pregnancy_outcomes", "pregnancy_outcome", "22", ends_pregnancy=True),
            Row("23", "Số lượt sàng lọc trước sinh", "Prenatal screenings", "times",
                "prenatal_screenings"),
            *_by("prenatal_screenings", "prenatal_screening", "23", "times"),
            Row("23.9", "Trong đó: có nguy cơ cao", "Of which high risk", "times",
                "prenatal_screenings.positive", depth=1),
            Row("24", "Số trẻ sơ sinh được sàng lọc", "Newborns screened",
                key="newborns_screened"),
            Row("24.1", "Trong đó: có nguy cơ cao", "Of which high risk",
                key="newborns_screened.positive", depth=1),
            *_by("newborn_screenings", "newborn_screening", "25", "times"),
            Row("26", "Số lượt khám sức khỏe người cao tuổi", "Elderly health check-ups",
                "times", "elderly_checks"),
            *_by("elderly_checks", "elderly_check_result", "26", "times"),
        )),
        Section("VII", "Tình hình nộp phiếu thu tin P0", "P0 slips received", (
            Row("27", "Số địa bàn phải nộp phiếu", "Areas expected to report", "areas",
                "areas_expected"),
            Row("28", "Số địa bàn đã nộp phiếu", "Areas that reported", "areas",
                "areas_reported"),
            Row("29", "Số địa bàn nộp đúng hạn", "Areas on time", "areas", "areas_on_time"),
            Row("30", "Số phiếu chưa khớp số liệu", "Slips that do not match", "areas",
                "areas_incomplete"),
            Row("31", "Tính đầy đủ của báo cáo", "Completeness", "percent", "completeness"),
            Row("32", "Tính kịp thời của báo cáo", "Timeliness", "percent", "timeliness"),
        )),
    )


def _by_methods(prefix: str, number: str,
                methods: list[tuple[str, str, str]]) -> tuple[Row, ...]:
    return tuple(Row(f"{number}.{i}", vi, en, key=f"{prefix}.{code}", depth=1)
                 for i, (code, vi, en) in enumerate(methods, 1))


# ------------------------------------------------------------------ values

_STOCKS = tuple(i.name for i in CATALOGUE if i.kind == "stock")


def _is_stock(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in _STOCKS)


def shown(sections: Sequence[Section], codes: Sequence[str],
          values: Mapping[str, Mapping[str, Any]], lang: str = "vi"
          ) -> list[tuple[Section, list[tuple[Row, list[str]]]]]:
    """Each section's rows with their cells as a person reads them, one per code
    (``5.083``, a rate always with its decimal: ``76,9``, ``68,0``; "x" for a rate with
    nothing to divide by, "—" for a row not collected). Formatted once here rather
    than cell by cell in the template: a province's form has over ten thousand."""
    empty: Mapping[str, Any] = {}
    cells = [values.get(code, empty) for code in codes]
    num, rate = formats.num, formats.rate
    return [(section, [(row, [(rate if row.unit == "percent" and row.collected else num)(
                                  row.value(cell), lang) for cell in cells])
                       for row in section.rows])
            for section in sections]


def period_values(by_month: Mapping[str, Mapping[str, Any]], period: Period) -> dict[str, Any]:
    """One unit's values over ``period``: flows and reporting counts summed over its
    months, stocks at its end, ratios recomputed."""
    if len(period.months) == 1:
        return dict(by_month.get(period.last, {}))
    total: dict[str, float] = {}
    for month in period.months:
        add_into(total, {k: v for k, v in by_month.get(month, {}).items() if not _is_stock(k)})
    add_into(total, {k: v for k, v in by_month.get(period.last, {}).items() if _is_stock(k)})
    return with_derived(total)
