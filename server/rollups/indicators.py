"""The indicators of DESIGN §5: their names, keys and definitions.

A roll-up cell is a flat mapping ``name → number`` for one org unit and one month.
Counts add up from areas to every level above; the derived values (ratios,
percentages) never add: they are recomputed from the summed counts at each level
by :func:`with_derived`. :data:`CATALOGUE` lists every family with its labels; the
report forms and ``docs/rollups.md`` read it.

Definitions (written down here once; the tests compute them independently):

* Month ``M`` runs from its first to its last day. **Stocks** are taken at the end
  of the month (``E(M)``, the last day), **flows** are the facts dated within it.
  Cells exist for every month from the first month in which anyone was
  registered (``registered_on``; a person without that date counts from the
  month their record reached the server, its batch's month) or anything dated
  happened, to the current month — quiet months included.
* A person counts once: only live member rows (not ``deleted``, no
  ``merged_into``). A person is in the register at ``E(M)`` when born on or before
  ``E(M)`` and registered (``registered_on``, when given) on or before ``E(M)``.
  Their state at ``E(M)`` is the fold (:mod:`a0core.projection`) of their own facts
  dated on or before ``E(M)``: register record, woman status, and the non-voided
  events death, move in/out, marriage, divorce, method start/stop/switch,
  pregnancy, change of household, and births they gave.
* Age at ``E(M)``: completed years, from the year and month of birth (a birthday in
  month ``M`` is reached by its end, so a person turning 60 on ``E(M)`` is 60 in
  ``M``); a year-only birth date counts from January. Age groups of five years,
  ``00-04`` … ``95-99`` and ``100+``.
* ``population``: persons whose residence status at ``E(M)`` "lives here" in the
  residence code list (present and temporary residents), by sex and age group;
  ``population.60plus``: those aged 60 or more.
* ``households``: live households with at least one person counted in the
  population, by each person's household at ``E(M)`` (membership is dated: a
  person split off to a new household in October counts in the old one until
  then; a merged household counts as its survivor).
* ``women_married_15_49``: counted women aged 15–49 at ``E(M)`` with marital
  status married; ``users.<method>``: those of them using a method (not "none");
  ``users.modern``: the methods flagged ``modern`` in the code list; ``mcpr`` and
  ``cpr``: modern / any users per 100 married women 15–49.
* ``pregnant``: counted women whose latest pregnancy fact by ``E(M)`` says
  pregnant (no outcome, birth or death since) and whose pregnancy has not run
  over: ``E(M)`` is at most 42 days after the expected date of delivery or, when
  none was recorded, after the day it was seen plus 280 days (an assumption, so
  that a pregnancy whose end was never recorded does not count for ever).
* Flows, by event date, of non-voided events about a live person: ``births``
  (``member_id`` is the mother) by the child's sex, ``births.order2``,
  ``births.order3plus`` (birth order 2, ≥ 3), ``births.mother_under20`` (mother
  under 20 on the day), and the sex ratio at birth ``srb`` (boys per 100 girls);
  ``deaths`` by sex; ``moves_in`` / ``moves_out`` and by ``from_scope`` /
  ``to_scope``; ``marriages``, ``divorces``; ``household_changes`` by reason;
  ``new_acceptors.<method>`` (``method_start``); ``method_stops`` by reason and
  method; ``method_switches`` by new method (and ``.from.<method>``);
  ``pregnancies.new`` (pregnancies seen) and ``pregnancy_outcomes.<outcome>``
  (pregnancies ended: a ``pregnancy`` event with an outcome, or a ``birth`` event,
  which ends the mother's pregnancy in the fold too and counts as ``live_birth``;
  once per woman and month, so that twins, or a delivery recorded both as the
  outcome and as the birth, end one pregnancy. So ``pregnant`` at the end of ``M``
  = at the end of ``M-1`` + ``pregnancies.new`` − ``pregnancy_outcomes``, except
  for a birth whose pregnancy was never recorded, a pregnancy that ran over, and a
  pregnant woman who died, moved or came into the register);
  ``newborn_screenings.<kind>`` (tests) and ``newborns_screened`` (children with
  one or more tests in the month), ``newborns_screened.positive`` (one of them
  abnormal); ``prenatal_screenings.<kind>`` and ``prenatal_screenings.positive``;
  ``elderly_checks.<result>``.
* ``distributed.<method>``: quantities (in the method's unit) of non-voided
  distributions dated in the month; ``distributed.<source>.<method>`` by source
  (free, social marketing, sold; ``unstated`` for records of form version 1).
* Reporting, by reporting month (the P0 slip for ``M`` is closed early in
  ``M+1``, :mod:`a0core.p0`): ``areas_expected`` (each collaborator area in the
  tree, or holding register data, from the month it was added or of its first
  data if earlier: :func:`server.rollups.compute.area_starts`), ``areas_reported``
  (a slip for ``M`` was received), ``areas_on_time``
  (the first slip for ``M`` was received by the end of day
  ``A0SYNC_REPORT_DEADLINE_DAY`` of ``M+1``, Vietnam time), ``areas_incomplete``
  (the latest slip's counts differ from the entries the server holds),
  ``completeness`` and ``timeliness`` (reported / on time per 100 expected), and
  ``areas_synced`` (a batch of any kind arrived during ``M``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from a0core.schemas import registry

AGE_GROUPS = (*(f"{5 * g:02d}-{5 * g + 4:02d}" for g in range(20)), "100+")
MAX_GROUP = len(AGE_GROUPS) - 1
WOMEN_GROUPS = range(3, 10)  # 15-19 … 45-49
ELDERLY_GROUP = 12  # 60-64 and above

# events that change the state a stock indicator reads (a birth too, for its mother)
STATE_FORMS = ("death", "move_in", "move_out", "marriage", "divorce", "method_start",
               "method_stop", "method_switch", "pregnancy", "household_change")
PREGNANCY_DAYS, POSTPARTUM_DAYS = 280, 42  # the pregnant stock's run-over rule
LIVE_BIRTH = "live_birth"  # the pregnancy outcome a birth event stands for
UNSTATED = "unstated"  # the source of a distribution recorded before form version 2

DERIVED = ("srb", "mcpr", "cpr", "completeness", "timeliness")
# the ratios of other modules' indicators (server.rollups.sources): each replaces its own
# in a cell's values, recomputed from the counts like those above
DERIVERS: dict[str, Callable[[dict[str, float]], None]] = {}
# and the names of their keys (key, language → name, None: not theirs)
NAMERS: dict[str, Callable[[str, str], str | None]] = {}


@dataclass(frozen=True)
class Indicator:
    """A family of indicators: ``name`` and, when ``by`` names a code list (or a
    dimension), ``name.<code>`` for each of its codes."""

    name: str
    kind: str  # stock | flow | ratio | reporting
    vi: str
    en: str
    by: str | None = None


CATALOGUE: tuple[Indicator, ...] = (
    Indicator("households", "stock", "Số hộ dân cư", "Households"),
    Indicator("population", "stock", "Dân số (nhân khẩu thực tế thường trú)", "Population",
              "sex"),
    Indicator("population.60plus", "stock", "Người từ 60 tuổi trở lên", "Persons aged 60+"),
    Indicator("women_married_15_49", "stock", "Phụ nữ 15–49 tuổi có chồng",
              "Married women aged 15–49"),
    Indicator("users", "stock", "Người đang sử dụng biện pháp tránh thai",
              "Current contraceptive users", "contraceptive_method"),
    Indicator("users.modern", "stock", "Người đang sử dụng biện pháp hiện đại",
              "Current users of a modern method"),
    Indicator("cpr", "ratio", "Tỷ lệ sử dụng biện pháp tránh thai (%)",
              "Contraceptive prevalence (%)"),
    Indicator("mcpr", "ratio", "Tỷ lệ sử dụng biện pháp tránh thai hiện đại (%)",
              "Modern contraceptive prevalence (%)"),
    Indicator("pregnant", "stock", "Phụ nữ đang mang thai cuối tháng",
              "Women pregnant at the end of the month"),
    Indicator("births", "flow", "Số trẻ sinh ra", "Births", "sex"),
    Indicator("births.order2", "flow", "Sinh con thứ 2", "Second births"),
    Indicator("births.order3plus", "flow", "Sinh con thứ 3 trở lên", "Third or higher births"),
    Indicator("births.mother_under20", "flow", "Trẻ sinh ra của phụ nữ dưới 20 tuổi",
              "Births to mothers under 20"),
    Indicator("srb", "ratio", "Tỷ số giới tính khi sinh (trai/100 gái)",
              "Sex ratio at birth (boys per 100 girls)"),
    Indicator("deaths", "flow", "Số người chết", "Deaths", "sex"),
    Indicator("moves_in", "flow", "Số người chuyển đến", "Moves in", "move_scope"),
    Indicator("moves_out", "flow", "Số người chuyển đi", "Moves out", "move_scope"),
    Indicator("household_changes", "flow", "Chuyển hộ, tách hộ", "Changes of household",
              "household_change_reason"),
    Indicator("marriages", "flow", "Số người kết hôn", "Marriages"),
    Indicator("divorces", "flow", "Số người ly hôn", "Divorces"),
    Indicator("new_acceptors", "flow", "Người mới sử dụng biện pháp tránh thai",
              "New acceptors", "contraceptive_method"),
    Indicator("method_stops", "flow", "Người ngừng sử dụng biện pháp tránh thai",
              "Stopped a method", "stop_reason"),
    Indicator("method_stops.method", "flow", "Ngừng sử dụng, theo biện pháp",
              "Stopped, by method", "contraceptive_method"),
    Indicator("method_switches", "flow", "Người chuyển đổi biện pháp (theo biện pháp mới)",
              "Switched method (by new method)", "contraceptive_method"),
    Indicator("method_switches.from", "flow", "Chuyển đổi biện pháp, theo biện pháp cũ",
              "Switched method, by previous method", "contraceptive_method"),
    Indicator("distributed", "flow", "Số lượng phương tiện tránh thai đã cấp",
              "Contraceptives handed out", "contraceptive_method"),
    Indicator("distributed.free", "flow", "Cấp miễn phí", "Handed out free",
              "contraceptive_method"),
    Indicator("distributed.social_marketing", "flow", "Tiếp thị xã hội",
              "Social marketing", "contraceptive_method"),
    Indicator("distributed.sold", "flow", "Bán (xã hội hóa)", "Sold", "contraceptive_method"),
    Indicator("distributed.unstated", "flow", "Chưa ghi hình thức cung cấp",
              "Source not recorded", "contraceptive_method"),
    Indicator("pregnancies.new", "flow", "Phụ nữ mang thai mới phát hiện",
              "Pregnancies newly seen"),
    Indicator("pregnancy_outcomes", "flow", "Kết thúc thai kỳ", "Pregnancy outcomes",
              "pregnancy_outcome"),
    Indicator("newborn_screenings", "flow", "Lượt sàng lọc sơ sinh", "Newborn screening tests",
              "newborn_screening"),
    Indicator("newborns_screened", "flow", "Trẻ sơ sinh được sàng lọc",
              "Newborns screened"),
    Indicator("newborns_screened.positive", "flow", "Trẻ sơ sinh sàng lọc có nguy cơ cao",
              "Newborns screened positive"),
    Indicator("prenatal_screenings", "flow", "Lượt sàng lọc trước sinh",
              "Prenatal screenings", "prenatal_screening"),
    Indicator("prenatal_screenings.positive", "flow", "Sàng lọc trước sinh có nguy cơ cao",
              "Prenatal screenings positive"),
    Indicator("elderly_checks", "flow", "Lượt khám sức khỏe người cao tuổi",
              "Elderly health check-ups", "elderly_check_result"),
    Indicator("areas_expected", "reporting", "Địa bàn phải báo cáo", "Areas expected"),
    Indicator("areas_reported", "reporting", "Địa bàn đã nộp phiếu P0", "Areas reported"),
    Indicator("areas_on_time", "reporting", "Địa bàn nộp đúng hạn", "Areas on time"),
    Indicator("areas_incomplete", "reporting", "Phiếu P0 chưa khớp số liệu",
              "Slips that do not match"),
    Indicator("completeness", "ratio", "Tính đầy đủ của báo cáo (%)", "Completeness (%)"),
    Indicator("timeliness", "ratio", "Tính kịp thời của báo cáo (%)", "Timeliness (%)"),
    Indicator("areas_synced", "reporting", "Địa bàn có đồng bộ trong tháng",
              "Areas that synced in the month"),
)


@cache
def _families() -> dict[str, Indicator]:
    return {i.name: i for i in CATALOGUE}


def indicator_name(key: str, lang: str = "vi") -> str | None:
    """What a person reads for a roll-up key: the catalogue's (:func:`catalogue_name`),
    else the module's that keeps it (:data:`NAMERS`); None for a key nobody names."""
    return catalogue_name(key, lang) or next(
        (name for namer in NAMERS.values() if (name := namer(key, lang))), None)


def catalogue_name(key: str, lang: str = "vi") -> str | None:
    """A key's name from the catalogue and its code list: ``births.female`` → "Số trẻ
    sinh ra — Nữ", ``population.male.15-19`` → "… — Nam, 15-19 tuổi". None for a key
    the catalogue does not know (another module's)."""
    families, head, rest = _families(), key, []
    while head not in families:
        if "." not in head:
            return None
        head, part = head.rsplit(".", 1)
        rest.insert(0, part)
    family, vi = families[head], lang == "vi"
    codes = registry().codelists.get(family.by) if family.by else None
    words = []
    for part in rest:
        code = codes.get(part) if codes else None
        if code is not None:
            words.append(code.vi if vi else code.en)
        else:  # an age group
            words.append(f"{part} tuổi" if vi and part in AGE_GROUPS else part)
    label = family.vi if vi else family.en
    return f"{label} — {', '.join(words)}" if words else label


@cache
def lives_here() -> tuple[str, ...]:
    """Residence statuses counted in the population (``lives_here`` in the code list)."""
    codes = registry().codelist("residence_status").codes
    return tuple(c.code for c in codes if c.attrs.get("lives_here"))


@cache
def modern_methods() -> frozenset[str]:
    return frozenset(c.code for c in registry().codelist("contraceptive_method").codes
                     if c.attrs.get("modern"))


@cache
def no_method() -> str:
    codes = registry().codelist("contraceptive_method").codes
    return next(c.code for c in codes if c.attrs.get("is_none"))


@cache
def abnormal_results() -> frozenset[str]:
    """Screening results counted as positive (``positive`` in the code list)."""
    return frozenset(c.code for c in registry().codelist("screening_result").codes
                     if c.attrs.get("positive"))


def age_group(months_of_age: int) -> int:
    """Index into :data:`AGE_GROUPS` for an age in whole months."""
    return min(months_of_age // 60, MAX_GROUP)


def month_index(month: str) -> int:
    """``"2025-03"`` → months since year 0 (so differences are ages in months)."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def index_month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def birth_index(birth_date: str) -> int:
    """Month index of a birth date; a year-only date counts from January."""
    month = int(birth_date[5:7]) if len(birth_date) >= 7 else 1
    return int(birth_date[:4]) * 12 + month - 1


def month_end(month: str) -> str:
    """An upper bound for ISO dates in ``month`` (string comparison; "-31" fits every month)."""
    return f"{month}-31"


def stock_names(sex: str, group: int, method: str | None, pregnant: bool) -> tuple[str, ...]:
    """The counts one person of the population adds (``method`` set: a married woman)."""
    names = ["population", f"population.{sex}", f"population.{sex}.{AGE_GROUPS[group]}"]
    if group >= ELDERLY_GROUP:
        names.append("population.60plus")
    if method is not None and group in WOMEN_GROUPS:
        names.append("women_married_15_49")
        if method != no_method():
            names += ["users", f"users.{method}"]
            if method in modern_methods():
                names.append("users.modern")
    if pregnant:
        names.append("pregnant")
    return tuple(names)


def age_on(birth_date: str, day: str) -> int:
    """Completed years on ``day`` (a year-only birth date: the year's difference)."""
    born = int(birth_date[:4]) if birth_date[:4].isdigit() else 0
    before = len(birth_date) >= 10 and birth_date[5:10] > day[5:10]
    return int(day[:4]) - born - before


def flow_names(form: str, record: Mapping[str, Any], sex: str, born: str,
               day: str) -> tuple[list[str], list[str]]:
    """What one event about a live person adds to its month: (names counted once per
    event, names counted once per person and month). A new form's flows go here."""
    get = record.get
    if form == "birth":
        names = ["births", f"births.{get('sex')}"]
        order = get("birth_order")
        if order == 2:
            names.append("births.order2")
        elif isinstance(order, int) and order >= 3:
            names.append("births.order3plus")
        if age_on(born, day) < 20:
            names.append("births.mother_under20")
        # a birth ends the mother's pregnancy (as in the fold): once per mother and month,
        # so twins, or the outcome also recorded as a pregnancy event, end one pregnancy
        return names, ["pregnancy_outcomes", f"pregnancy_outcomes.{LIVE_BIRTH}"]
    if form == "death":
        return ["deaths", f"deaths.{sex}"], []
    if form in ("move_in", "move_out"):
        name = "moves_in" if form == "move_in" else "moves_out"
        scope = get("from_scope" if form == "move_in" else "to_scope")
        return [name] + ([f"{name}.{scope}"] if scope else []), []
    if form in ("marriage", "divorce"):
        return [form + "s"], []
    if form == "household_change":
        return ["household_changes", f"household_changes.{get('reason')}"], []
    if form == "method_start":
        return ["new_acceptors", f"new_acceptors.{get('method')}"], []
    if form == "method_stop":
        return ["method_stops", f"method_stops.{get('reason')}",
                f"method_stops.method.{get('method')}"], []
    if form == "method_switch":
        return ["method_switches", f"method_switches.{get('method')}",
                f"method_switches.from.{get('from_method')}"], []
    if form == "pregnancy":
        outcome = get("outcome")
        if outcome == "pregnant":
            return ["pregnancies.new"], []
        return [], ["pregnancy_outcomes", f"pregnancy_outcomes.{outcome}"]
    if form == "newborn_screening":
        positive = get("result") in abnormal_results()
        return (["newborn_screenings", f"newborn_screenings.{get('screening')}"],
                ["newborns_screened"] + (["newborns_screened.positive"] if positive else []))
    if form == "prenatal_screening":
        names = ["prenatal_screenings", f"prenatal_screenings.{get('screening')}"]
        if get("result") in abnormal_results():
            names.append("prenatal_screenings.positive")
        return names, []
    if form == "elderly_check":
        return ["elderly_checks", f"elderly_checks.{get('result')}"], []
    return [], []  # change_info: on the slip, no indicator


def distributed_names(method: str, source: str | None) -> tuple[str, str]:
    return f"distributed.{method}", f"distributed.{source or UNSTATED}.{method}"


def with_derived(values: Mapping[str, float]) -> dict[str, float]:
    """The counts plus the ratios computed from them (never summed across units). A
    ratio with nothing to divide by is left out — the pages show it "x", not 0,0
    (:data:`server.formats.NOT_COMPUTABLE`) — one whose count is 0 is 0.0."""
    out = {k: v for k, v in values.items() if k not in DERIVED and v}
    girls, boys = out.get("births.female", 0), out.get("births.male", 0)
    if girls:
        out["srb"] = round(100 * boys / girls, 1)
    women = out.get("women_married_15_49", 0)
    if women:
        out["mcpr"] = round(100 * out.get("users.modern", 0) / women, 1)
        out["cpr"] = round(100 * out.get("users", 0) / women, 1)
    expected = out.get("areas_expected", 0)
    if expected:
        out["completeness"] = round(100 * out.get("areas_reported", 0) / expected, 1)
        out["timeliness"] = round(100 * out.get("areas_on_time", 0) / expected, 1)
    for derive in DERIVERS.values():
        derive(out)
    return out


def add_into(total: dict[str, float], values: Mapping[str, float], sign: int = 1) -> None:
    """``total += sign * values`` over the counts (derived values are skipped)."""
    for key, value in values.items():
        if key in DERIVED:
            continue
        new = total.get(key, 0) + sign * value
        if new:
            total[key] = new
        else:
            total.pop(key, None)
