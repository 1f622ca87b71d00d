"""How alike two person records, or two households, are (DESIGN §4). Pure Python.

Blocking (:func:`block_keys`) decides which pairs are worth scoring at all: two
records of one commune are compared when they share a key. Keys are built from
the folded name (:mod:`a0core.names`: no diacritics, đ→d, single spaces) so that
typing errors of those kinds never hide a pair:

* ``n:`` the sorted tokens of the name — insensitive to name order;
* ``sg:`` family and given name (first and last token, sorted) — insensitive to a
  missing or different middle name;
* ``ty:`` first or last token with the birth year — a typo in the other part;
* ``b:`` the health-insurance (BHYT) number.

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


def block_keys(full_name: str, birth_date: str, bhyt: str | None) -> set[str]:
    t = tokens(full_name)
    keys: set[str] = set()
    if t:
        keys.add("n:" + " ".join(sorted(t)))
        keys.add("sg:" + pair_key(full_name))
        year = (birth_date or "")[:4]
        if year:
            keys.add(f"ty:{t[0]}:{year}")
            keys.add(f"ty:{t[-1]}:{year}")
    if bhyt:
        keys.add("b:" + bhyt)
    return keys


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
BASE = -2.5


@lru_cache(maxsize=1 << 14)
def _fellow_keys(names: tuple[str, ...]) -> Counter[str]:
    return Counter(pair_key(n) for n in names)


def fellows_in_common(a: Iterable[str], b: Iterable[str]) -> int:
    """Household fellows with the same family + given name on both sides (multiset)."""
    return sum((_fellow_keys(tuple(a)) & _fellow_keys(tuple(b))).values())


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def score_members(a: Person, b: Person) -> tuple[float, dict[str, Any]]:
    """Likelihood that two member records are one person, and why (JSON-able)."""
    sim = name_similarity(a.full_name, b.full_name)
    marks = diacritics(a.full_name, b.full_name)
    birth = birth_match(a.birth_date, b.birth_date)
    fellows = fellows_in_common(a.fellows, b.fellows) if a.household_id != b.household_id else 0
    reasons: dict[str, Any] = {"name": round(sim, 3), "diacritics": marks, "birth": birth,
                               "sex": "same" if a.sex == b.sex else "different",
                               "fellows": fellows}
    x = BASE + (sim - 0.85) * 20.0 + DIACRITIC_WEIGHT[marks] + BIRTH_WEIGHT[birth]
    if a.sex != b.sex:
        x -= 6.0
    if a.ethnicity and b.ethnicity and a.ethnicity != b.ethnicity:
        x -= 1.0
        reasons["ethnicity"] = "different"
    x += 1.5 * min(fellows, 3)
    bhyt = "unknown"
    if a.bhyt and b.bhyt:
        bhyt = "same" if a.bhyt == b.bhyt else "different"
        if bhyt == "different":
            x -= 5.0
    reasons["bhyt"] = bhyt
    score = _sigmoid(x)
    if bhyt == "same":
        score = max(score, BHYT_SAME_SCORE)
    return round(score, 4), reasons


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
