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
  of the time;
* **twins, true non-duplicates**: a second child of a household born the same day,
  the given name a tone apart (Mai/Mại) or another name;
* **a father and son of one name**, in one household or in two.

About half of the people of 14 and over carry a personal identification number
(:func:`personal_id_for`: consistent with their sex and year of birth), namesakes
and twins included, so two different numbers tell people apart.

Errors of a copy, each drawn independently (rates in :data:`ERROR_RATES`):
missing diacritics (with đ typed as d), wrong tone marks, a typo (a letter
replaced, dropped or two swapped), a consonant written as it sounds (s/x, ch/tr,
d/gi, l/n, n/ng, c/t), a middle name left out, a name part abbreviated (``Ng.``,
``T.``), names reordered (given name first), doubled spaces, day and month
swapped, the year of birth only, the year one off with the same day and month,
a date a few days off, and the BHYT number and the identification number kept or
left out (the number sometimes with one digit mistyped). The copy never has
another person's numbers.

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
               "spaces": 0.10, "swap_day_month": 0.15, "year_only": 0.12, "keep_bhyt": 0.35,
               "sound": 0.08, "drop_middle": 0.10, "abbreviate": 0.06, "year_off": 0.05,
               "days_off": 0.05, "keep_id": 0.50, "id_typo": 0.10}
HOUSEHOLD_COPY_SHARE = 0.03
PERSON_COPY_SHARE = 0.04
NAMESAKE_SHARE = 0.03
TWIN_SHARE = 0.015        # of households with a child
TWIN_NAMES = ("An", "Bình", "Long", "Phúc", "Lộc", "Khang", "Ngọc", "Hà", "Mai")
SAME_NAME_SON_SHARE = 0.01  # of households with a male head
ID_SHARE = 0.5            # of people aged 14 and over (the age an identity card is issued)
ID_PROVINCE = "034"       # Thái Bình, the province of the default commune
COMMON_NAMES = (("Nguyễn Văn Hùng", "male"), ("Nguyễn Thị Hương", "female"),
                ("Trần Văn Nam", "male"), ("Nguyễn Thị Lan", "female"))


@dataclass
class LabelledSet:
    commune_code: str
    areas: list[AreaRegister]
    member_pairs: set[tuple[str, str]] = field(default_factory=set)
    household_pairs: set[tuple[str, str]] = field(default_factory=set)
    namesakes: int = 0
    twins: int = 0
    same_name_sons: int = 0
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


# consonants written as they sound: initial (as written in a capitalised token), final
_SOUNDS = (("S", "X"), ("X", "S"), ("Ch", "Tr"), ("Tr", "Ch"), ("D", "Gi"), ("Gi", "D"),
           ("L", "N"), ("N", "L"), ("R", "D"))
_FINAL_SOUNDS = (("ng", "n"), ("nh", "n"), ("n", "ng"), ("c", "t"), ("t", "c"))


def sound_alike(name: str, rng: random.Random) -> str:
    """The given name with one consonant written as it sounds (Sương → Xương, Lan → Lang)."""
    words = name.split(" ")
    given = words[-1]
    options = [(a, b, True) for a, b in _SOUNDS if given.startswith(a)
               and not (a == "N" and given.startswith(("Ng", "Nh")))]
    options += [(a, b, False) for a, b in _FINAL_SOUNDS if given.endswith(a)
                and not (a == "n" and given.endswith(("ng", "nh")))]
    if not options:
        return name
    a, b, initial = rng.choice(options)
    words[-1] = b + given[len(a):] if initial else given[: -len(a)] + b
    return " ".join(words)


def drop_middle(name: str, rng: random.Random) -> str:
    """One middle name left out (Trần Thị Ngọc Lan → Trần Thị Lan / Trần Ngọc Lan)."""
    words = name.split(" ")
    if len(words) < 3:
        return name
    del words[rng.randrange(1, len(words) - 1)]
    return " ".join(words)


def abbreviate(name: str, rng: random.Random) -> str:
    """The family name or a middle name shortened: ``Ng.`` for Nguyễn, ``T.`` for Thị."""
    words = name.split(" ")
    if len(words) < 2:
        return name
    if words[0] == "Nguyễn" or (len(words) < 3 or rng.random() < 0.3):
        words[0] = "Ng." if words[0] == "Nguyễn" else strip_diacritics(words[0])[:2] + "."
    else:
        i = rng.randrange(1, len(words) - 1)
        words[i] = strip_diacritics(words[i])[0] + rng.choice((".", ""))
    return " ".join(words)


def personal_id_for(sex: str, birth_date: str, rng: random.Random,
                    province: str = ID_PROVINCE) -> str:
    """A personal identification number that agrees with the person's sex and year."""
    year = int(birth_date[:4])
    century = 2 * (year // 100 - 19) + (1 if sex == "female" else 0)
    return f"{province}{century}{year % 100:02d}{rng.randrange(1_000_000):06d}"


def mistype_digit(number: str, rng: random.Random) -> str:
    i = rng.randrange(3, len(number))  # the province code is read off the card
    return number[:i] + str((int(number[i]) + rng.randrange(1, 10)) % 10) + number[i + 1:]


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
        for error, change in (("sound", sound_alike), ("drop_middle", drop_middle),
                              ("abbreviate", abbreviate)):
            if r() < ERROR_RATES[error]:
                changed = change(name, self.rng)
                if changed != name:
                    name = changed
                    self.count(error)
        if r() < ERROR_RATES["no_diacritics"]:
            name = strip_diacritics(name)
            self.count("no_diacritics")
        if r() < ERROR_RATES["reorder"]:
            name = reorder(name)
            self.count("reorder")
        if r() < ERROR_RATES["spaces"]:
            name = name.replace(" ", "  ", 1) + " "
            self.count("spaces")
        born = self.copy_date(m["birth_date"])
        copy = {k: v for k, v in m.items() if k not in ("mother_id", "bhyt_number",
                                                         "id_number")}
        copy.update(id=self.uid(), household_id=household_id, full_name=name,
                    birth_date=born, relation=relation)
        if m.get("bhyt_number") and r() < ERROR_RATES["keep_bhyt"]:
            copy["bhyt_number"] = m["bhyt_number"]
        if m.get("id_number") and r() < ERROR_RATES["keep_id"]:
            copy["id_number"] = m["id_number"]
            if r() < ERROR_RATES["id_typo"]:
                copy["id_number"] = mistype_digit(m["id_number"], self.rng)
                self.count("id_typo")
        return copy

    def copy_date(self, born: str) -> str:
        if len(born) != 10:
            return born
        u = self.rng.random()
        day = dt.date.fromisoformat(born)
        rates = ERROR_RATES
        if u < rates["swap_day_month"] and _swap(born):
            self.count("swap_day_month")
            return _swap(born)  # type: ignore[return-value]
        u -= rates["swap_day_month"]
        if 0 <= u < rates["year_only"]:
            self.count("year_only")
            return born[:4]
        u -= rates["year_only"]
        if 0 <= u < rates["year_off"] and born[5:] != "02-29":
            self.count("year_off")
            return f"{day.year + self.rng.choice((-1, 1))}{born[4:]}"
        u -= rates["year_off"]
        if 0 <= u < rates["days_off"]:
            shifted = day + dt.timedelta(days=self.rng.choice((-3, -2, -1, 1, 2, 3)))
            if shifted.year == day.year:
                self.count("days_off")
                return shifted.isoformat()
        return born

    def maybe_id(self, m: dict[str, Any], this_year: int) -> None:
        """Give about half of the people of 14 and over an identification number."""
        if this_year - int(m["birth_date"][:4]) >= 14 and self.rng.random() < ID_SHARE:
            province = ID_PROVINCE if self.rng.random() < 0.85 else self.rng.choice(
                ("001", "036", "030", "033", "022", "038"))
            m["id_number"] = personal_id_for(m["sex"], m["birth_date"], self.rng, province)

    def twin_name(self, name: str) -> str:
        """The twin's name: the given name a tone apart (Mai/Mại, Hùng/Hừng), or another."""
        words = name.split(" ")
        given, u = words[-1], self.rng.random()
        other = wrong_tone(given, self.rng) if u < 0.6 else given
        if other == given:
            other = self.rng.choice([n for n in TWIN_NAMES if n != given])
        return " ".join([*words[:-1], other])

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
    for m in people:
        mk.maybe_id(m, period[0].year)

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
        mk.maybe_id(rec, period[0].year)
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

    # twins: a second child born the same day, named a tone or a letter apart (or not)
    children = [m for m in people if m.get("relation") == "child" and len(m["birth_date"]) == 10]
    for m in rng.sample(children, max(1, int(len(originals) * TWIN_SHARE))):
        twin = {**m, "id": mk.uid(), "full_name": mk.twin_name(m["full_name"])}
        twin.pop("bhyt_number", None)
        twin.pop("id_number", None)
        mk.maybe_id(twin, period[0].year)
        area_of[m["household_id"]].members.append(twin)
        labelled.twins += 1

    # a son given his father's full name, at home or in a household of his own
    fathers = [m for m in people if m.get("relation") == "head" and m["sex"] == "male"
               and int(m["birth_date"][:4]) <= period[0].year - 40]
    for m in rng.sample(fathers, max(1, int(len(originals) * SAME_NAME_SON_SHARE))):
        year = int(m["birth_date"][:4]) + rng.randint(20, 35)
        born = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
        home = m["household_id"]
        if rng.random() < 0.5:
            home = mk.new_household(rng.choice(areas), None)["id"]
        son = {k: m[k] for k in ("full_name", "sex", "ethnicity", "education",
                                 "residence_status", "registered_on") if k in m}
        son.update(id=mk.uid(), household_id=home, relation="child" if home ==
                   m["household_id"] else "head", birth_date=born.isoformat(),
                   marital_status="single")
        mk.maybe_id(son, period[0].year)
        area_of.get(home, next(a for a in areas if any(h["id"] == home
                                                      for h in a.households))).members.append(son)
        labelled.same_name_sons += 1
    return labelled
