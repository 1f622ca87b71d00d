"""A labelled duplicate set: a synthetic commune with realistic duplicates and namesakes.

The truth is known because the duplicates are made here, from the synthetic
register (:func:`server.synthetic.generate_commune`):

* **whole households registered twice** (two collaborators, or a new register
  cycle): a copy in another area with a new number, some members left out, every
  member copied with clerical errors — labelled as a household pair and as
  member pairs;
* **persons registered twice** (moved without a move being recorded): a copy
  living alone or in another household of the commune — a member pair;
* **namesakes, true non-duplicates**: other people with exactly the same name and
  sex (many "Nguyễn Văn Hùng" in one commune), born in the same year about half
  of the time.

Errors of a copy, each drawn independently (rates in :data:`ERROR_RATES`):
missing diacritics (with đ typed as d), wrong tone marks, a typo (a letter
replaced, dropped or two swapped), names reordered (given name first), doubled
spaces, day and month swapped, the year of birth only, and the BHYT number kept
or left out. The copy never has another person's BHYT number.

Everything is drawn from ``random.Random`` seeded by a string, so one seed gives
the same set on every machine. Bench and tests use different seeds from the
one the scorer was tuned on (``bench/dedupe.py`` documents which).
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from server.synthetic.generator import AreaRegister, Record, generate_commune

ERROR_RATES = {"no_diacritics": 0.30, "wrong_tone": 0.15, "typo": 0.15, "reorder": 0.10,
               "spaces": 0.10, "swap_day_month": 0.15, "year_only": 0.12, "keep_bhyt": 0.35}
HOUSEHOLD_COPY_SHARE = 0.03
PERSON_COPY_SHARE = 0.04
NAMESAKE_SHARE = 0.03
COMMON_NAMES = (("Nguyễn Văn Hùng", "male"), ("Nguyễn Thị Hương", "female"),
                ("Trần Văn Nam", "male"), ("Nguyễn Thị Lan", "female"))


@dataclass
class LabelledSet:
    commune_code: str
    areas: list[AreaRegister]
    member_pairs: set[tuple[str, str]] = field(default_factory=set)
    household_pairs: set[tuple[str, str]] = field(default_factory=set)
    namesakes: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def members(self) -> Iterator[Record]:
        for area in self.areas:
            yield from area.members


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


# -- clerical errors ----------------------------------------------------------------------

_TONES = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng


def strip_diacritics(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def wrong_tone(name: str, rng: random.Random) -> str:
    """Put another tone mark (or none) on one syllable: Hùng → Húng, Lan → Làn."""
    words = name.split(" ")
    i = rng.randrange(len(words))
    decomposed = unicodedata.normalize("NFD", words[i])
    bare = "".join(ch for ch in decomposed if ch not in _TONES)
    vowels = [k for k, ch in enumerate(bare) if ch.lower() in "aeiouy"]
    if not vowels:
        return name
    k = vowels[-1] if len(vowels) == 1 else vowels[rng.randrange(len(vowels))]
    tone = rng.choice(_TONES + " ").strip()
    words[i] = unicodedata.normalize("NFC", bare[:k + 1] + tone + bare[k + 1:])
    return " ".join(words)


def typo(name: str, rng: random.Random) -> str:
    words = name.split(" ")
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) < 3:
        return name
    k = rng.randrange(1, len(w))
    kind = rng.random()
    if kind < 0.4:
        w = w[:k] + rng.choice("aeinmghtuocr") + w[k + 1:]
    elif kind < 0.7:
        w = w[:k] + w[k + 1:]
    elif k < len(w) - 1:
        w = w[:k] + w[k + 1] + w[k] + w[k + 2:]
    words[i] = w
    return " ".join(words)


def reorder(name: str) -> str:
    """Given name first, as some forms and minority naming conventions write it."""
    words = name.split(" ")
    return " ".join(words[-1:] + words[:-1]) if len(words) > 1 else name


def _swap(day: str) -> str | None:
    y, m, d = day.split("-")
    if int(d) > 12 or d == m:
        return None
    return f"{y}-{d}-{m}"


class _Maker:
    def __init__(self, seed: int, labelled: LabelledSet) -> None:
        self.rng = random.Random(f"a0sync/synthetic/duplicates:{seed}:{labelled.commune_code}")
        self.set = labelled

    def uid(self) -> str:
        return str(__import__("uuid").UUID(int=self.rng.getrandbits(128), version=4))

    def count(self, error: str) -> None:
        self.set.errors[error] = self.set.errors.get(error, 0) + 1

    def copy_member(self, m: Record, household_id: str, relation: str) -> Record:
        r = self.rng.random
        name = m["full_name"]
        if r() < ERROR_RATES["wrong_tone"]:
            name = wrong_tone(name, self.rng)
            self.count("wrong_tone")
        if r() < ERROR_RATES["typo"]:
            name = typo(name, self.rng)
            self.count("typo")
        if r() < ERROR_RATES["no_diacritics"]:
            name = strip_diacritics(name)
            self.count("no_diacritics")
        if r() < ERROR_RATES["reorder"]:
            name = reorder(name)
            self.count("reorder")
        if r() < ERROR_RATES["spaces"]:
            name = name.replace(" ", "  ", 1) + " "
            self.count("spaces")
        born = m["birth_date"]
        if len(born) == 10:
            u = r()
            if u < ERROR_RATES["swap_day_month"] and _swap(born):
                born = _swap(born)  # type: ignore[assignment]
                self.count("swap_day_month")
            elif u > 1 - ERROR_RATES["year_only"]:
                born = born[:4]
                self.count("year_only")
        copy = {k: v for k, v in m.items() if k not in ("mother_id", "bhyt_number")}
        copy.update(id=self.uid(), household_id=household_id, full_name=name,
                    birth_date=born, relation=relation)
        if m.get("bhyt_number") and r() < ERROR_RATES["keep_bhyt"]:
            copy["bhyt_number"] = m["bhyt_number"]
        return copy

    def new_household(self, area: AreaRegister, like: Record | None) -> Record:
        number = str(900 + len(area.households))
        address = like["address"] if like is not None and self.rng.random() < 0.6 else (
            area.households[0]["address"] if area.households else "")
        rec = {"id": self.uid(), "area_code": area.area_code, "village_code": area.village_code,
               "number": number, "address": address}
        area.households.append(rec)
        return rec


def labelled_set(seed: int, commune_code: str = "12619", commune_name: str = "Xã Diên Hà",
                 households: int = 600,
                 period: tuple[dt.date, dt.date] = (dt.date(2024, 1, 1),
                                                    dt.date(2024, 12, 31))) -> LabelledSet:
    """The register of one commune (base records only) with duplicates and namesakes added."""
    areas = list(generate_commune(seed, commune_code, commune_name, households, period))
    for area in areas:  # the labelled set is about the register, not the period's facts
        area.events, area.distributions, area.woman_status = [], [], []
    labelled = LabelledSet(commune_code, areas)
    mk = _Maker(seed, labelled)
    rng = mk.rng
    by_household: dict[str, list[Record]] = {}
    area_of: dict[str, AreaRegister] = {}
    for area in areas:
        for h in area.households:
            area_of[h["id"]] = area
        for m in area.members:
            by_household.setdefault(m["household_id"], []).append(m)
    originals = [h for a in areas for h in a.households]
    people = [m for a in areas for m in a.members]

    # whole households registered twice, by the collaborator of another area
    chosen_h = rng.sample(originals, max(1, int(len(originals) * HOUSEHOLD_COPY_SHARE)))
    taken: set[str] = set()
    for h in chosen_h:
        members = by_household.get(h["id"], [])
        if not members:
            continue
        area = rng.choice(areas)
        copy = mk.new_household(area, h)
        kept = [m for m in members if len(members) == 1 or rng.random() > 0.15]
        if len(kept) < min(2, len(members)):
            kept = members[:2]  # one person in common is a person copy, not a household
        for m in kept:
            c = mk.copy_member(m, copy["id"], m["relation"])
            area.members.append(c)
            labelled.member_pairs.add(_pair(m["id"], c["id"]))
            taken.add(m["id"])
        copy["head_member_id"] = area.members[-len(kept)]["id"]
        labelled.household_pairs.add(_pair(h["id"], copy["id"]))

    # persons registered a second time elsewhere in the commune
    free = [m for m in people if m["id"] not in taken]
    for m in rng.sample(free, max(1, int(len(people) * PERSON_COPY_SHARE))):
        area = rng.choice(areas)
        target = rng.choice(area.households)
        if rng.random() < 0.5 and target["id"] != m["household_id"]:
            c = mk.copy_member(m, target["id"], "other")
        else:
            target = mk.new_household(area, None)
            c = mk.copy_member(m, target["id"], "head")
            target["head_member_id"] = c["id"]
            if len(by_household.get(m["household_id"], [])) == 1:
                # a person living alone registered twice is a household registered twice
                labelled.household_pairs.add(_pair(m["household_id"], target["id"]))
        area.members.append(c)
        labelled.member_pairs.add(_pair(m["id"], c["id"]))

    # namesakes: other people with exactly the same name and sex
    def namesake(name: str, sex: str, year: int, like: Record) -> None:
        area = rng.choice(areas)
        target = rng.choice(area.households)
        born = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
        rec: dict[str, Any] = {k: like[k] for k in ("ethnicity", "education",
                                                     "marital_status", "residence_status",
                                                     "registered_on") if k in like}
        rec.update(id=mk.uid(), household_id=target["id"], full_name=name, sex=sex,
                   relation="other", birth_date=born.isoformat())
        area.members.append(rec)
        labelled.namesakes += 1

    for m in rng.sample(people, max(1, int(len(people) * NAMESAKE_SHARE))):
        year = int(m["birth_date"][:4])
        if rng.random() >= 0.5:
            year += rng.choice((-1, 1)) * rng.randint(1, 10)
        namesake(m["full_name"], m["sex"], min(year, period[0].year - 1), m)
    for name, sex in COMMON_NAMES:
        like = next(m for m in people if m["sex"] == sex)
        for _ in range(12):
            namesake(name, sex, rng.randint(1950, 2005), like)
    return labelled
