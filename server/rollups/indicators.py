"""The indicators of DESIGN §5: their names, keys and definitions.

A roll-up cell is a flat mapping ``name → number`` for one org unit and one month.
Counts add up from areas to every level above; the derived values (ratios,
percentages) never add: they are recomputed from the summed counts at each level
by :func:`with_derived`.

Definitions (written down here once; the tests compute them independently):

* Month ``M`` runs from its first to its last day. **Stocks** are taken at the end
  of the month (``E(M)``, the last day), **flows** are the facts dated within it.
* A person counts once: only live member rows (not ``deleted``, no
  ``merged_into``). A person is in the register at ``E(M)`` when born on or before
  ``E(M)`` and registered (``registered_on``, when given) on or before ``E(M)``.
  Their state at ``E(M)`` is the fold (:mod:`a0core.projection`) of their own facts
  dated on or before ``E(M)``: register record, woman status, and the non-voided
  events death, move in/out, marriage, divorce, method start/stop/switch.
* Age at ``E(M)``: completed years, from the year and month of birth (a birthday in
  month ``M`` is reached by its end); a year-only birth date counts from January.
  Age groups of five years, ``00-04`` … ``95-99`` and ``100+``.
* ``population``: persons whose residence status at ``E(M)`` "lives here" in the
  residence code list (present and temporary residents), by sex and age group.
* ``households``: live households with at least one person counted in the
  population (a merged household counts as its survivor).
* ``women_married_15_49``: counted women aged 15–49 at ``E(M)`` with marital
  status married; ``users.<method>``: those of them using a method (not "none");
  ``users.modern``: the methods flagged ``modern`` in the code list; ``mcpr`` and
  ``cpr``: modern / any users per 100 married women 15–49.
* Flows, by event date, of non-voided events about a live person: ``births``
  (``member_id`` is the mother) by the child's sex, ``births.order3plus`` (birth
  order ≥ 3), ``births.mother_under20`` (mother under 20 on the day), and the sex
  ratio at birth ``srb`` (boys per 100 girls); ``deaths`` by sex; ``moves_in``,
  ``moves_out``, ``marriages``, ``divorces``; ``new_acceptors.<method>``
  (``method_start``). ``distributed.<method>``: quantities (in the method's unit)
  of non-voided distributions dated in the month.
* Reporting completeness: ``areas_expected`` (each collaborator area in the tree
  or holding register data counts 1), ``areas_synced`` (areas from which a batch
  was received during the month) and ``completeness`` (per cent).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from a0core.schemas import registry

AGE_GROUPS = (*(f"{5 * g:02d}-{5 * g + 4:02d}" for g in range(20)), "100+")
MAX_GROUP = len(AGE_GROUPS) - 1
WOMEN_GROUPS = range(3, 10)  # 15-19 … 45-49

# events that change the state a stock indicator reads
STATE_FORMS = ("death", "move_in", "move_out", "marriage", "divorce",
               "method_start", "method_stop", "method_switch")
COUNTED_FLOWS = {"death": "deaths", "move_in": "moves_in", "move_out": "moves_out",
                 "marriage": "marriages", "divorce": "divorces"}

DERIVED = ("srb", "mcpr", "cpr", "completeness")


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


def add_stock(values: dict[str, float], sex: str, group: int, method: str | None) -> None:
    """Count one person of the population (and, if ``method`` is set, a married woman)."""
    values["population"] = values.get("population", 0) + 1
    key = f"population.{sex}"
    values[key] = values.get(key, 0) + 1
    key = f"population.{sex}.{AGE_GROUPS[group]}"
    values[key] = values.get(key, 0) + 1
    if method is not None and group in WOMEN_GROUPS:
        add_woman(values, method, 1)


def add_woman(values: dict[str, float], method: str, count: int) -> None:
    values["women_married_15_49"] = values.get("women_married_15_49", 0) + count
    if method != no_method():
        for key in ("users", f"users.{method}") + (
                ("users.modern",) if method in modern_methods() else ()):
            values[key] = values.get(key, 0) + count


def with_derived(values: Mapping[str, float]) -> dict[str, float]:
    """The counts plus the ratios computed from them (never summed across units)."""
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
        out["completeness"] = round(100 * out.get("areas_synced", 0) / expected, 1)
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
