"""How alike two person records, or two households, are (DESIGN §4). Pure Python.

Blocking decides which pairs are worth scoring at all: two live records of one
commune are compared when one's stored key is among the other's look-up keys.
The keys are columns of the member row, written with the rest of it
(:func:`block_columns`, called by :mod:`server.register.materialise`) and indexed
with the commune, so finding a record's candidates is an index seek that returns
a handful of rows, never a scan of the commune or of a whole birth cohort. Each
key is ``sex|birth year|part`` on the folded name (:mod:`a0core.names`: no
diacritics, đ→d, single spaces):

* ``block_initials``: the first letters of the name's tokens, sorted — the same
  whatever the diacritics, tone marks, spacing or name order, and whatever typos
  follow the first letter of a token (several of them, in several tokens);
* ``block_pair``: family and given name (first and last token, sorted) — a
  missing, different or misspelt middle name.

A record looks up both keys for its birth year and for year 0 (unknown), and
its family+given key for the years either side too; a record of unknown year
looks up every year (:func:`window_keys`). A year apart, a pair reaches
:data:`MEMBER_LINK` only when the two households share two fellows or more (a
household registered twice, one birth year typed wrong), so the initials key is
not looked up there: a year apart it would bring more pairs than all the other
look-ups together, and on the labelled set not one that reaches the link.
Further apart, a pair cannot reach the link at all: the birth term costs more
than every other term can bring (tested). A pair whose sex differs is not
compared (sex is in the key) unless the BHYT numbers are equal, which
``detect`` looks up separately.

What blocking misses: a wrong *first* letter of the family or given name; a
misspelt family or given name in a copy without its middle name, or a year
apart; a name both reordered and shortened, or reordered a year apart. All are
rare; every true pair of the labelled set (``bench/dedupe.py``) shares a block.

Scoring (:func:`score_members`) adds up evidence in log-odds and squashes it to
0…1: name similarity (rapidfuzz on folded names, name order ignored), whether
the diacritics agree, date or year of birth (a swapped day and month, a year
only), sex, ethnicity, and fellow household members with the same names. An
equal BHYT number is near-certain; two different numbers are strong evidence
against. Every term is symmetric, so ``score(a, b) == score(b, a)``.

Households (:func:`score_households`) are scored by how many of their members
pair up (one-to-one, best pairs first), and by number and address. Two
households are duplicates when at least two members pair up, or when both hold
one person: a single person in common is a person registered twice (a member
candidate), not a household registered twice.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz

from a0core.names import fold

DEFAULT_MEMBER_THRESHOLD = 0.80
DEFAULT_HOUSEHOLD_THRESHOLD = 0.75
MEMBER_LINK = 0.50  # a member pair at least this likely counts towards its households

BHYT_SAME_SCORE = 0.99


@dataclass(frozen=True)
class Thresholds:
    member: float = DEFAULT_MEMBER_THRESHOLD
    household: float = DEFAULT_HOUSEHOLD_THRESHOLD


DEFAULTS = Thresholds()


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

    @property
    def folded(self) -> str:
        return _fold(self.full_name)


# Names repeat across a commune and across the pairs of one batch: fold each once.
_fold = lru_cache(maxsize=1 << 16)(fold)


def tokens(full_name: str) -> list[str]:
    return _fold(full_name).split()


@lru_cache(maxsize=1 << 16)
def pair_key(full_name: str) -> str:
    """First and last token, sorted: family + given name whatever the order or middle."""
    t = tokens(full_name)
    if not t:
        return ""
    return " ".join(sorted({t[0], t[-1]}))


BLOCK_COLUMNS = ("block_initials", "block_pair")
KEY_LENGTH = 120  # the columns' width; a longer key is cut (it still matches itself)
UNKNOWN_YEAR = 0
YEARS = range(1880, 2101)  # what a record of unknown birth year looks up


def _key(sex: str | None, year: int, part: str) -> str:
    return f"{sex or ''}|{year}|{part}"[:KEY_LENGTH]


@lru_cache(maxsize=1 << 16)
def _parts(full_name: str) -> tuple[str, str]:
    initials = "".join(sorted(token[0] for token in tokens(full_name)))
    return initials, pair_key(full_name)


def block_columns(full_name: str, sex: str | None, birth_year: int) -> dict[str, str]:
    """The stored keys of a member record: one per column of :data:`BLOCK_COLUMNS`."""
    return {column: _key(sex, birth_year, part)
            for column, part in zip(BLOCK_COLUMNS, _parts(full_name), strict=True)}


def window_keys(full_name: str, sex: str | None, birth_year: int) -> dict[str, set[str]]:
    """The stored keys a record's candidates may have, per column."""
    if birth_year == UNKNOWN_YEAR:
        years = {column: (*YEARS, UNKNOWN_YEAR) for column in BLOCK_COLUMNS}
    else:
        years = {"block_initials": (birth_year, UNKNOWN_YEAR),
                 "block_pair": (birth_year - 1, birth_year, birth_year + 1, UNKNOWN_YEAR)}
    return {column: {_key(sex, year, part) for year in years[column]}
            for column, part in zip(BLOCK_COLUMNS, _parts(full_name), strict=True)}


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def name_similarity(a: str, b: str) -> float:
    """0…1 on folded names, name order ignored."""
    fa, fb = _fold(a), _fold(b)
    if not fa or not fb:
        return 0.0
    return max(fuzz.token_sort_ratio(fa, fb), fuzz.ratio(fa, fb)) / 100.0


def diacritics(a: str, b: str) -> str:
    """``same`` (identical as written), ``missing`` (one side typed without any), ``differ``."""
    pa, pb = _plain(a), _plain(b)
    if pa == pb:
        return "same"
    if _fold(a) == pa or _fold(b) == pb:
        return "missing"
    return "differ"


def birth_match(a: str, b: str) -> str:
    if not a or not b:
        return "unknown"
    ya, yb = a[:4], b[:4]
    if not (ya.isdigit() and yb.isdigit()):
        return "unknown"
    gap = abs(int(ya) - int(yb))
    if gap == 1:
        return "year_off_by_one"
    if gap > 1:
        return "different_year"
    if len(a) < 10 or len(b) < 10:
        return "same_year"          # one of them has the year only
    if a == b:
        return "same_date"
    if a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return "swapped_day_month"
    return "other_date_same_year"


BIRTH_WEIGHT = {"same_date": 3.0, "swapped_day_month": 2.2, "same_year": 0.6, "unknown": 0.0,
                "other_date_same_year": -2.5, "year_off_by_one": -3.0, "different_year": -7.0}
DIACRITIC_WEIGHT = {"same": 0.6, "missing": 0.2, "differ": -0.4}
BEST_MARKS = max(DIACRITIC_WEIGHT, key=DIACRITIC_WEIGHT.__getitem__)
BASE = -2.5


@lru_cache(maxsize=1 << 14)
def _fellow_keys(names: tuple[str, ...]) -> Counter[str]:
    return Counter(pair_key(n) for n in names)


def fellows_in_common(a: Iterable[str], b: Iterable[str]) -> int:
    """Household fellows with the same family + given name on both sides (multiset)."""
    return sum((_fellow_keys(tuple(a)) & _fellow_keys(tuple(b))).values())


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


FELLOWS_COUNTED = 3  # fellows in common beyond this add nothing


def _log_odds(a: Person, b: Person, sim: float, marks: str, birth: str, fellows: int) -> float:
    x = BASE + (sim - 0.85) * 20.0 + DIACRITIC_WEIGHT[marks] + BIRTH_WEIGHT[birth]
    if a.sex != b.sex:
        x -= 6.0
    if a.ethnicity and b.ethnicity and a.ethnicity != b.ethnicity:
        x -= 1.0
    x += 1.5 * min(fellows, FELLOWS_COUNTED)
    if a.bhyt and b.bhyt and a.bhyt != b.bhyt:
        x -= 5.0
    return x


def score_members(a: Person, b: Person) -> tuple[float, dict[str, Any]]:
    """Likelihood that two member records are one person, and why (JSON-able)."""
    sim = name_similarity(a.full_name, b.full_name)
    marks = diacritics(a.full_name, b.full_name)
    birth = birth_match(a.birth_date, b.birth_date)
    fellows = fellows_in_common(a.fellows, b.fellows) if a.household_id != b.household_id else 0
    reasons: dict[str, Any] = {"name": round(sim, 3), "diacritics": marks, "birth": birth,
                               "sex": "same" if a.sex == b.sex else "different",
                               "fellows": fellows}
    if a.ethnicity and b.ethnicity and a.ethnicity != b.ethnicity:
        reasons["ethnicity"] = "different"
    bhyt = "unknown"
    if a.bhyt and b.bhyt:
        bhyt = "same" if a.bhyt == b.bhyt else "different"
    reasons["bhyt"] = bhyt
    score = _sigmoid(_log_odds(a, b, sim, marks, birth, fellows))
    if bhyt == "same":
        score = max(score, BHYT_SAME_SCORE)
    return round(score, 4), reasons


def score_ceiling(a: Person, b: Person, fellows: int = FELLOWS_COUNTED) -> float:
    """The most :func:`score_members` can give ``a`` and ``b``: never less than their score.

    The costly terms are taken at their best: the diacritics, and the fellows in
    common, which are at most ``fellows`` (by default as many as count), so
    detection can set aside the many pairs of a block that cannot reach a
    threshold before it reads their households.
    """
    if a.bhyt and a.bhyt == b.bhyt:
        return 1.0
    x = _log_odds(a, b, name_similarity(a.full_name, b.full_name), BEST_MARKS,
                  birth_match(a.birth_date, b.birth_date),
                  fellows if a.household_id != b.household_id else 0)
    return round(_sigmoid(x), 4)


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
    address = (fuzz.token_sort_ratio(fold(a.address or ""), fold(b.address or "")) / 100.0
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
