"""How alike two person records, or two households, are (DESIGN §4). Pure Python.

**Blocking** decides which pairs are scored at all: two live records of one commune
are compared when one's stored key is among the other's look-up keys. The keys are
columns of the member row, written with the rest of it (:func:`block_columns`,
called by :mod:`server.register.materialise`) and indexed with the commune, so a
record's candidates come from index seeks, never a scan of the commune. All but
the numbers start ``sex|birth year|``:

* ``block_initials``: the first letters of the name's tokens, sorted — whatever the
  marks, the order, the typos after the first letter, an abbreviation (``Ng.``);
* ``block_pair``: family and given name (first and last token, sorted) — a middle
  name left out, added or misspelt; looked up a year either side too;
* ``block_sound``: the whole name with spaces gone and sound-alike letters made one
  (:func:`~server.sync.duplicates.names.skeleton`) — ``Sử``/``Xử``, ``Chứ``/``Trứ``,
  ``Lan``/``Lang``, ``Sô Phal``/``Sophal``, ``Êban``/``Ê Ban``;
* ``block_date``: the full date of birth, day and month in either order, and the
  given name without its first consonants (:func:`~server.sync.duplicates.names.rime`)
  — a wrong first letter, a family name left out, when the date agrees; looked up a
  year either side and with the year's last two digits swapped;
* ``id_number``: the personal identification number (or the 12-digit number on a
  newer health-insurance card);
* ``block_card``: the 10-digit social-insurance number, from a 10-digit card number
  or the last ten digits of an old 15-character card.

A record of unknown birth year (0) looks up every year. What blocking misses: a
pair whose sex differs and that shares no number; a name both misspelt at its first
letter and reordered, with a year-only or mistyped date; a personal identification
number mistyped when nothing else links the pair; a year off by more than one, or
by one with both name keys broken.

**Scoring** (:func:`score_members`) adds evidence in log-odds and squashes it to
0…1, every term symmetric. Names are compared part by part
(:mod:`~server.sync.duplicates.names`): a missing middle name or an initial is
partial agreement, not disagreement. Dates count for their precision: the year
alone against a full date, a year off by one with the same day and month, day and
month swapped, a digit slipped, dates a few days apart. Negative evidence: two
people of one household born the same day with different given names are twins; a
different birth year further than one is another generation; two different valid
identification numbers are two people. An equal identification or social-insurance
number is near-certain. Fellow household members with the same names count for the
pair (when the two live in different households).

Households (:func:`score_households`) are scored by how many of their members pair
up (one-to-one, best pairs first), and by number and address. Two households are
duplicates when at least two members pair up, or when both hold one person: a
single person in common is a person registered twice (a member candidate), not a
household registered twice.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import combinations, product
from typing import Any

from rapidfuzz import fuzz

from a0core import personal_id
from a0core.names import fold
from server.sync.duplicates import names

DEFAULT_MEMBER_THRESHOLD = 0.80
DEFAULT_HOUSEHOLD_THRESHOLD = 0.75
MEMBER_LINK = 0.50  # a member pair at least this likely counts towards its households

SAME_NUMBER_SCORE = 0.99  # an equal identification or social-insurance number


@dataclass(frozen=True)
class Thresholds:
    member: float = DEFAULT_MEMBER_THRESHOLD
    household: float = DEFAULT_HOUSEHOLD_THRESHOLD


DEFAULTS = Thresholds()


def card_number(bhyt: str | None) -> str | None:
    """The 10-digit social-insurance number a health-insurance card number holds: the
    number itself, or the last ten characters of an old 15-character code
    (2 letters, benefit level, province, then the number)."""
    if not bhyt:
        return None
    if len(bhyt) == 10 and bhyt.isdigit():
        return bhyt
    if len(bhyt) == 15 and bhyt[5:].isdigit():
        return bhyt[5:]
    return None


def id_of(id_number: str | None, bhyt: str | None) -> str | None:
    """The personal identification number: the field, or a card that carries it."""
    if id_number:
        return id_number
    return bhyt if bhyt and personal_id.parse(bhyt) else None


@dataclass(frozen=True)
class Person:
    """What scoring needs of a member; ``fellows`` are the other members' names."""

    id: str
    household_id: str
    full_name: str
    sex: str
    birth_date: str
    ethnicity: str | None = None
    bhyt: str | None = None
    fellows: tuple[str, ...] = field(default=())
    id_number: str | None = None

    @cached_property
    def number(self) -> str | None:
        return id_of(self.id_number, self.bhyt)

    @cached_property
    def card(self) -> str | None:
        return card_number(self.bhyt)


# Names repeat across a commune and across the pairs of one batch: fold each once.
_fold = lru_cache(maxsize=1 << 16)(fold)


def tokens(full_name: str) -> list[str]:
    return list(names.parse(full_name).folds)


@lru_cache(maxsize=1 << 16)
def pair_key(full_name: str) -> str:
    """First and last token, sorted: family + given name whatever the order or middle."""
    t = tokens(full_name)
    if not t:
        return ""
    return " ".join(sorted({t[0], t[-1]}))


# -- blocking ---------------------------------------------------------------------------

BLOCK_COLUMNS = ("block_initials", "block_pair", "block_sound", "block_date")
NUMBER_COLUMNS = ("id_number", "block_card")
KEY_LENGTH = 120  # the columns' width; a longer key is cut (it still matches itself)
UNKNOWN_YEAR = 0
YEARS = range(1880, 2101)  # what a record of unknown birth year looks up


def _key(sex: str | None, year: int, part: str) -> str:
    key = f"{sex or ''}|{year}|{part}"
    return key if len(key) <= KEY_LENGTH else key[:KEY_LENGTH]


@lru_cache(maxsize=1 << 16)
def _name_parts(full_name: str) -> tuple[str, str, str, str]:
    """Initials, :func:`pair_key`, skeleton and given name's rime, from one parse."""
    folds = names.parse(full_name).folds
    if not folds:
        return "", "", names.skeleton(full_name), ""
    initials = "".join(sorted(token[0] for token in folds))
    return (initials, " ".join(sorted({folds[0], folds[-1]})), names.skeleton(full_name),
            names.rime(folds[-1]))


def _day(birth_date: str, rime: str) -> str | None:
    """Day and month of a full date, smaller first (a swap of the two is the same key),
    and the given name's rime."""
    if len(birth_date) != 10:
        return None
    return "-".join(sorted((birth_date[5:7], birth_date[8:10]))) + "|" + rime


def year_of(birth_date: str | None) -> int:
    head = (birth_date or "")[:4]
    return int(head) if head.isdigit() else UNKNOWN_YEAR


def block_columns(full_name: str, sex: str | None, birth_date: str,
                  id_number: str | None = None, bhyt: str | None = None) -> dict[str, Any]:
    """The stored keys of a member record: one per column of :data:`BLOCK_COLUMNS` and
    :data:`NUMBER_COLUMNS`."""
    year = year_of(birth_date)
    initials, pair, sound, rime = _name_parts(full_name)
    day = _day(birth_date, rime)
    return {"block_initials": _key(sex, year, initials), "block_pair": _key(sex, year, pair),
            "block_sound": _key(sex, year, sound),
            "block_date": _key(sex, year, day) if day else None,
            "id_number": id_of(id_number, bhyt), "block_card": card_number(bhyt)}


def _swapped_year(year: int) -> int | None:
    """The year with its last two digits swapped (1975 ↔ 1957), if another year."""
    text = str(year)
    if len(text) != 4:
        return None
    swapped = int(text[:2] + text[3] + text[2])
    return swapped if swapped != year else None


def window_keys(full_name: str, sex: str | None, birth_date: str, id_number: str | None = None,
                bhyt: str | None = None) -> dict[str, list[str]]:
    """The stored keys a record's candidates may have, per column: the record's own
    birth year for the initials, the years either side too for the other name keys
    and the date (and the year with its last digits swapped), every year when its
    year is unknown."""
    year = year_of(birth_date)
    initials, pair, sound, rime = _name_parts(full_name)
    day = _day(birth_date, rime)
    if year == UNKNOWN_YEAR:
        out = {"block_initials": list(_every_year(sex, initials)),
               "block_pair": list(_every_year(sex, pair)),
               "block_sound": list(_every_year(sex, sound)), "block_date": []}
    else:
        own, near = (year, UNKNOWN_YEAR), (year - 1, year, year + 1, UNKNOWN_YEAR)
        out = {"block_initials": _keys(sex, own, initials), "block_pair": _keys(sex, near, pair),
               "block_sound": _keys(sex, near, sound), "block_date": []}
    if day and year != UNKNOWN_YEAR:
        swapped = _swapped_year(year)
        out["block_date"] = _keys(sex, (year - 1, year, year + 1, *([swapped] if swapped else ())),
                                  day)
    number, card = id_of(id_number, bhyt), card_number(bhyt)
    out["id_number"] = [number] if number else []
    out["block_card"] = [card] if card else []
    return out


def blocked_within(stored: Iterable[tuple[str, Mapping[str, str | None]]],
                   ) -> set[tuple[str, str]]:
    """Every pair among records whose stored keys (:func:`block_columns`) the other's
    :func:`window_keys` would look up — the same pairs, found from the stored keys
    alone: the look-up is symmetric, so holders of a key are paired with the holders
    of the keys that key's window reaches (a whole-commune scan)."""
    groups: dict[str, dict[str, list[str]]] = {c: {} for c in (*BLOCK_COLUMNS, *NUMBER_COLUMNS)}
    for record_id, keys in stored:
        for column, by_key in groups.items():
            if (key := keys.get(column)) is not None:
                by_key.setdefault(key, []).append(record_id)
    pairs: set[tuple[str, str]] = set()

    def pair(xs: list[str], ys: list[str] | None = None) -> None:
        combos = combinations(xs, 2) if ys is None else product(xs, ys)
        pairs.update((x, y) if x < y else (y, x) for x, y in combos if x != y)

    for column, by_key in groups.items():
        spread = column in ("block_pair", "block_sound", "block_date")
        by_part: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key in by_key:
            if column in BLOCK_COLUMNS:
                sex, year, part = key.split("|", 2)
                by_part[(sex, part)].append(year)
        for key, holders in by_key.items():
            pair(holders)
            if column not in BLOCK_COLUMNS:
                continue
            sex, year_text, part = key.split("|", 2)
            year = int(year_text)
            if year == UNKNOWN_YEAR:  # compared with every year (but by the date key)
                near = [] if column == "block_date" else [
                    int(y) for y in by_part[(sex, part)] if int(y) != UNKNOWN_YEAR]
            else:
                near = [year + 1] if spread else []  # year - 1 is the other key's year + 1
                if column == "block_date" and (swapped := _swapped_year(year)) and swapped > year:
                    near.append(swapped)
            for other in near:
                found = by_key.get(f"{sex}|{other}|{part}"[:KEY_LENGTH])
                if found:
                    pair(holders, found)
    return pairs


@lru_cache(maxsize=256)  # 222 keys of about 60 bytes each: a few MB at most
def _every_year(sex: str | None, part: str) -> tuple[str, ...]:
    """The keys of every year (and the unknown one): what a record of unknown year
    looks up (cached: 222 keys a column, and first letters recur)."""
    return tuple(_keys(sex, (*YEARS, UNKNOWN_YEAR), part))


def _keys(sex: str | None, years: Iterable[int], part: str) -> list[str]:
    head, tail = f"{sex or ''}|", f"|{part}"
    if len(head) + len(tail) + 5 <= KEY_LENGTH:  # no year is longer: nothing to cut
        return [f"{head}{y}{tail}" for y in years]
    return [f"{head}{y}{tail}"[:KEY_LENGTH] for y in years]


# -- dates ------------------------------------------------------------------------------

def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _slip(a: str, b: str) -> bool:
    """Two-digit fields one typing slip apart: one digit, or the two digits swapped."""
    return a != b and (a[0] == b[0] or a[1] == b[1] or a == b[::-1])


def birth_match(a: str, b: str) -> str:
    """How two dates of birth (``YYYY-MM-DD`` or ``YYYY``) agree, for their precision."""
    ya, yb = year_of(a), year_of(b)
    if ya == UNKNOWN_YEAR or yb == UNKNOWN_YEAR:
        return "unknown"
    full = len(a) == 10 and len(b) == 10
    if not full:
        gap = abs(ya - yb)
        return {0: "same_year", 1: "year_only_off_by_one"}.get(gap, "different_year")
    if a == b:
        return "same_date"
    da, db = _date(a), _date(b)
    if da is None or db is None:
        return "unknown"
    apart = abs((da - db).days)
    if ya != yb:
        if a[5:] == b[5:]:
            if abs(ya - yb) == 1:
                return "year_off_same_day"
            if a[:2] == b[:2] and a[2:4] == b[3] + b[2]:
                return "year_digits_swapped"
        if apart <= 3:
            return "days_apart"  # 31/12 against 01/01
        return "year_off_by_one" if abs(ya - yb) == 1 else "different_year"
    if a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return "swapped_day_month"
    if apart <= 3:
        return "days_apart"
    if a[5:7] == b[5:7] and _slip(a[8:10], b[8:10]):
        return "day_slip"
    if a[8:10] == b[8:10] and _slip(a[5:7], b[5:7]):
        return "month_slip"
    if apart <= 15:
        return "weeks_apart"
    return "other_date_same_year"


# -- numbers ----------------------------------------------------------------------------

def numbers_match(a: str | None, b: str | None) -> str:
    if not a or not b:
        return "unknown"
    if a == b:
        return "same"
    return "near" if personal_id.near(a, b) else "different"


def _consistent(p: Person) -> bool:
    number = p.number
    return bool(number) and not personal_id.disagreements(number, p.sex, p.birth_date)


# -- evidence ---------------------------------------------------------------------------

# log-odds that the two records are one person, per observation (tuned on the tuning
# split of the hand-written set and the generator's tuning seed: bench/dedupe.py)
GIVEN = {"same": 2.5, "unmarked": 2.4, "marks": 2.0, "initial": 0.5, "sound": 2.3,
         "typo": 1.5, "close": 0.3, "differ": -5.0}
FAMILY = {"same": 1.0, "unmarked": 1.0, "marks": 0.6, "initial": 0.8, "sound": 0.8,
          "typo": 0.4, "close": -1.0, "missing": 0.0, "none": 0.0, "differ": -3.0}
MIDDLE = {"same": 0.8, "unmarked": 0.8, "marks": 0.5, "initial": 0.6, "sound": 0.6,
          "typo": 0.5, "close": -0.3, "missing": -0.2, "none": 0.6, "differ": -2.0}
ORDER = {"": 0.0, "joined": 0.0, "reordered": -0.5, "no_family": -0.3}
BIRTH = {"same_date": 3.0, "swapped_day_month": 2.5, "day_slip": 0.8, "month_slip": 0.8,
         "days_apart": 1.0, "weeks_apart": 0.8, "same_year": 0.8, "year_off_same_day": 2.0,
         "year_digits_swapped": 1.0, "year_only_off_by_one": -0.3, "unknown": 0.0,
         "year_off_by_one": -3.5, "other_date_same_year": -3.0, "different_year": -8.0}
NUMBER = {"same": 6.0, "near": 3.5, "different": -9.0, "unknown": 0.0}
CARD = {"same": 6.0, "near": 0.0, "different": -5.0, "unknown": 0.0}
SEX_DIFFERS = -6.0
ETHNICITY_DIFFERS = -1.0
TWINS = -15.0  # stronger than any number: merging twins would lose a person
FELLOW = 1.5
FELLOWS_COUNTED = 3  # fellows in common beyond this add nothing
BASE = -3.5


@lru_cache(maxsize=1 << 14)
def _fellow_keys(people: tuple[str, ...]) -> tuple[frozenset[str], Counter[str]]:
    keys = Counter(pair_key(n) for n in people)
    return frozenset(keys), keys


def fellows_in_common(a: Iterable[str], b: Iterable[str]) -> int:
    """Household fellows with the same family + given name on both sides (multiset)."""
    (sa, ca), (sb, cb) = _fellow_keys(tuple(a)), _fellow_keys(tuple(b))
    if sa.isdisjoint(sb):
        return 0
    return sum((ca & cb).values())


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _twins(a: Person, b: Person, agreement: names.Agreement, birth: str) -> bool:
    """One household, one birth date (or year, when that is all that is known), two given
    names, even a tone apart: twins, or siblings."""
    return (a.household_id == b.household_id and birth in ("same_date", "same_year")
            and agreement.given != names.SAME)


def _name_weight(agreement: names.Agreement) -> float:
    return (GIVEN[agreement.given] + FAMILY[agreement.family] + MIDDLE[agreement.middle]
            + ORDER[agreement.how])


@lru_cache(maxsize=1 << 16)
def name_agreement(a: str, b: str) -> tuple[names.Agreement, float]:
    """The reading of two names with the most evidence, and that evidence (log-odds)."""
    best = max(names.readings(a, b), key=_name_weight)
    return best, _name_weight(best)


def _explained(a: Person, b: Person, number: str) -> tuple[bool, bool]:
    """Whether one number on both records says which record's year, and which sex, is
    right (the other was mistyped): (year explained, sex explained)."""
    said = personal_id.parse(a.number or "") if number == "same" else None
    if said is None:
        return False, False
    years = {year_of(a.birth_date), year_of(b.birth_date)}
    return (len(years) == 2 and said.year in years,
            a.sex != b.sex and said.sex in (a.sex, b.sex))


def _facts(a: Person, b: Person, fellows: int | None) -> tuple[float, dict[str, Any]]:
    """Log-odds and reasons of everything but the names (cheap). A birth year or sex that
    disagrees where one identification number on both records agrees with one of them
    is a slip the number explains: it counts for nothing."""
    birth = birth_match(a.birth_date, b.birth_date)
    number = numbers_match(a.number, b.number)
    card = numbers_match(a.card, b.card)
    year_explained, sex_explained = _explained(a, b, number)
    x = BASE + (max(BIRTH[birth], 0.0) if year_explained else BIRTH[birth])
    x += NUMBER[number] + CARD[card]
    reasons: dict[str, Any] = {"birth": birth, "sex": "same" if a.sex == b.sex else "different",
                               "id_number": number, "bhyt": card}
    if a.sex != b.sex and not sex_explained:
        x += SEX_DIFFERS
    if a.ethnicity and b.ethnicity and a.ethnicity != b.ethnicity:
        x += ETHNICITY_DIFFERS
        reasons["ethnicity"] = "different"
    if a.household_id == b.household_id:
        reasons["household"] = "same"
    elif fellows is not None:
        x += FELLOW * min(fellows, FELLOWS_COUNTED)
        reasons["fellows"] = fellows
    return x, reasons


NAME_BEST = max(GIVEN.values()) + max(FAMILY.values()) + max(MIDDLE.values())


def _evidence(a: Person, b: Person, fellows: int | None) -> tuple[float, dict[str, Any]]:
    """Log-odds and reasons; ``fellows``: in common, ``None`` when either household holds
    nobody else (or both are one household)."""
    x, facts = _facts(a, b, fellows)
    agreement, name = name_agreement(a.full_name, b.full_name)
    reasons = {**agreement.as_dict(), **facts}
    if _twins(a, b, agreement, facts["birth"]):
        x += TWINS
        reasons["household"] = "twins"
    return x + name, reasons


def _floor(reasons: Mapping[str, Any], a: Person, b: Person) -> float:
    """An equal number makes a pair near-certain, unless the number itself is doubtful:
    it disagrees with a record's sex or year, or the two are twins (one child's number
    typed for the other)."""
    if reasons.get("household") == "twins":
        return 0.0
    if reasons["bhyt"] == "same" or (reasons["id_number"] == "same" and _consistent(a)
                                     and _consistent(b)):
        return SAME_NUMBER_SCORE
    return 0.0


def _fellows(a: Person, b: Person) -> int | None:
    if a.household_id == b.household_id or not (a.fellows and b.fellows):
        return None
    return fellows_in_common(a.fellows, b.fellows)


def score_members(a: Person, b: Person) -> tuple[float, dict[str, Any]]:
    """Likelihood that two member records are one person, and why (JSON-able)."""
    x, reasons = _evidence(a, b, _fellows(a, b))
    return round(max(_sigmoid(x), _floor(reasons, a, b)), 4), reasons


def score_ceiling(a: Person, b: Person, fellows: int = FELLOWS_COUNTED,
                  floor: float = 1.0) -> float:
    """At least what :func:`score_members` gives ``a`` and ``b``, with ``fellows`` in common
    at most (by default as many as count): detection sets aside the pairs of a block
    that cannot reach ``floor`` before it reads their households.

    Everything but the names is weighed first; the names are compared only when the
    best names could lift the pair to ``floor`` (below it, that bound is returned).
    """
    x, facts = _facts(a, b, fellows if a.household_id != b.household_id else None)
    bound = max(_sigmoid(x + NAME_BEST), _floor(facts, a, b))
    if bound < floor:
        return round(bound, 4)
    x, reasons = _evidence(a, b, fellows if a.household_id != b.household_id else None)
    return round(max(_sigmoid(x), _floor(reasons, a, b)), 4)


# -- households -------------------------------------------------------------------------

@dataclass(frozen=True)
class HouseholdSide:
    id: str
    number: str
    address: str | None
    members: tuple[str, ...]  # live member ids


def match_members(pairs: Mapping[tuple[str, str], float], left: Iterable[str],
                  right: Iterable[str], link: float = MEMBER_LINK) -> list[tuple[str, str, float]]:
    """One-to-one pairing of two households' members, best pairs first (deterministic)."""
    lset, rset = set(left), set(right)
    scored = []
    for (x, y), s in pairs.items():
        if s >= link and ((x in lset and y in rset) or (x in rset and y in lset)):
            scored.append((s, min(x, y), max(x, y)))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    used: set[str] = set()
    out = []
    for s, x, y in scored:
        if x not in used and y not in used:
            used |= {x, y}
            out.append((x, y, s))
    return out


def _same_number(a: str, b: str) -> bool:
    return bool(a) and a.split(".")[0] == b.split(".")[0]


def score_households(a: HouseholdSide, b: HouseholdSide,
                     pairs: Mapping[tuple[str, str], float]) -> tuple[float, dict[str, Any]]:
    """Likelihood that two households are one, from their members' pairs and their address."""
    matched = match_members(pairs, a.members, b.members)
    n_min, n_max = min(len(a.members), len(b.members)), max(len(a.members), len(b.members))
    address = (fuzz.token_sort_ratio(_fold(a.address or ""), _fold(b.address or "")) / 100.0
               if a.address and b.address else 0.0)
    reasons: dict[str, Any] = {"matched": len(matched), "members": [n_min, n_max],
                               "pairs": [[x, y, s] for x, y, s in matched],
                               "number": "same" if _same_number(a.number, b.number) else "differ",
                               "address": round(address, 3)}
    if not matched or n_min == 0:
        return 0.0, reasons
    mean = sum(s for *_, s in matched) / len(matched)
    if len(matched) == 1 and n_max > 1:
        # one person in common is a person registered twice, not a household
        return round(0.5 * mean, 4), reasons
    score = mean * (0.6 + 0.4 * len(matched) / n_max) + 0.05 * (address >= 0.9)
    if reasons["number"] == "same":
        score += 0.05
    return round(min(score, 1.0), 4), reasons


