"""The area generator: households at the start of a period, then the period's facts.

Read :mod:`server.synthetic` for the model and its sources. The code is written for
speed (one ``random.Random`` per area, ordinals for dates, ``__slots__`` people, no
per-record validation) because benchmarks generate a million persons with it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from a0core.applicability import applicability
from server.synthetic import names as nm
from server.synthetic import tables as tb
from server.synthetic.names import NameStyle, Weighted
from server.synthetic.units import LocalUnit, commune_plan

DPY = 365.2425  # days per year

Record = dict[str, Any]

# form ids of the non-event records, for :meth:`AreaRegister.records`
HOUSEHOLD_FORM = "household"
MEMBER_FORM = "member"
WOMAN_FORM = "woman_status"
DISTRIBUTION_FORM = "distribution"


@dataclass
class AreaRegister:
    """One collaborator area's register: base records plus the period's events.

    ``members`` is the register as it stood when each person was entered
    (``registered_on``): everyone present at the start of the period, and people who
    moved in during it (registered on the day they arrived). Children born in the
    period are *not* in ``members``; their birth event creates them (``child_id``).
    """

    area_code: str
    village_code: str
    commune_code: str
    collaborator_name: str
    households: list[Record] = field(default_factory=list)
    members: list[Record] = field(default_factory=list)
    woman_status: list[Record] = field(default_factory=list)
    events: list[Record] = field(default_factory=list)
    distributions: list[Record] = field(default_factory=list)

    def records(self) -> Iterator[tuple[str, Record]]:
        """Every record with its form id (events lose their ``form`` key), in load order."""
        for h in self.households:
            yield HOUSEHOLD_FORM, h
        for m in self.members:
            yield MEMBER_FORM, m
        for w in self.woman_status:
            yield WOMAN_FORM, w
        for e in self.events:
            yield e["form"], {k: v for k, v in e.items() if k != "form"}
        for d in self.distributions:
            yield DISTRIBUTION_FORM, d


# -- small fast helpers ------------------------------------------------------------------

_ISO: dict[int, str] = {}


def _iso(day: int) -> str:
    s = _ISO.get(day)
    if s is None:
        s = _ISO[day] = dt.date.fromordinal(day).isoformat()
    return s


def _birthday(birth: int, years: int) -> int:
    """The day someone born on day ``birth`` turns ``years`` (29 February: 1 March)."""
    born = dt.date.fromordinal(birth)
    try:
        return born.replace(year=born.year + years).toordinal()
    except ValueError:
        return dt.date(born.year + years, 3, 1).toordinal()


_YEAR: dict[int, int] = {}


def _year(day: int) -> int:
    y = _YEAR.get(day)
    if y is None:
        y = _YEAR[day] = dt.date.fromordinal(day).year
    return y


_V4_CLEAR = ((1 << 128) - 1) ^ ((0xF << 76) | (0x3 << 62))
_V4_SET = (0x4 << 76) | (0x2 << 62)


def _uuid(bits: int) -> str:
    h = "%032x" % ((bits & _V4_CLEAR) | _V4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_FEISTEL_KEYS = (0x2545F491, 0x9E3779B9, 0x85EBCA6B)


def scramble_bhyt(index: int) -> str:
    """A bijection of [0, 10**10) onto 10-digit strings (3-round Feistel network).

    Distinct indexes give distinct numbers by construction, and the numbers look
    random, as real social-insurance numbers do.
    """
    left, right = divmod(index, 100_000)
    for k in _FEISTEL_KEYS:
        left, right = right, (left + (right * 2654435761 ^ k) // 7) % 100_000
    return f"{left * 100_000 + right:010d}"


BHYT_AREA_CAPACITY = 1020     # numbers per area
_BHYT_SLOTS = 297             # 99 villages × 3 areas, 302,940 numbers per commune
_BHYT_COMMUNE_SPAN = 303_030  # 33,000 communes × 303,030 < 10**10


def bhyt_base(area_code: str) -> int:
    """First BHYT index of an area: unique per (commune code, village, area number).

    Real commune codes are below 33,000, so commune × 303,030 numbers fit in ten
    digits; within a commune an area ``vv.a`` (vv ≤ 99, a ≤ 3) owns 1,020 serials.
    Codes outside that shape are hashed into a slot (documented limitation).
    """
    parts = area_code.split(".")
    head = parts[0]
    commune = int(head) % 33_000 if head.isdigit() else zlib.crc32(head.encode()) % 33_000
    slot = -1
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        vv, a = int(parts[1]), int(parts[2])
        if 1 <= vv <= 99 and 1 <= a <= 3:
            slot = (vv - 1) * 3 + (a - 1)
    if slot < 0:
        slot = zlib.crc32(area_code.encode()) % _BHYT_SLOTS
    return commune * _BHYT_COMMUNE_SPAN + slot * BHYT_AREA_CAPACITY


def _weighted(d: dict[str, float]) -> Weighted[str]:
    return Weighted(list(d.items()))


_MIX_BY_AGE = {k: _weighted(v) for k, v in tb.METHOD_MIX_BY_AGE.items()}
_POSTPARTUM = _weighted(tb.POSTPARTUM_MIX)
_SWITCH = _weighted(tb.SWITCH_MIX)
_STOP_REASON = _weighted(tb.STOP_REASONS)
_SOURCE = {k: _weighted(v) for k, v in tb.METHOD_SOURCE.items()}
_CLINICAL_SOURCE = _weighted(tb.CLINICAL_SOURCE)
_STERILIZATION_SOURCE = _weighted(tb.STERILIZATION_SOURCE)
_SCREEN_RESULT = _weighted(tb.SCREENING_RESULTS)
_PLACE = _weighted(tb.PLACE_OF_BIRTH)
_PLACE_REMOTE = _weighted(tb.PLACE_OF_BIRTH_REMOTE)
_PRENATAL = _weighted(tb.PRENATAL_SCREENINGS)
_NEWBORN = _weighted(tb.NEWBORN_SCREENINGS)
_ELDERLY = _weighted(tb.ELDERLY_RESULTS)
_CAUSE = _weighted(tb.DEATH_CAUSES)
_SCOPE_OUT = _weighted(tb.MOVE_SCOPES_OUT)
_SCOPE_IN = _weighted(tb.MOVE_SCOPES_IN)
_SCOPE_MARRIAGE = _weighted(tb.MARRIAGE_OUT_SCOPES)
_EDU = {k: _weighted(v) for k, v in tb.EDUCATION_BY_COHORT.items()}
_KINDS = Weighted([("nuclear", 50), ("three_gen", 24), ("elder_couple", 5),
                   ("single_elder", 6.5), ("single_adult", 5), ("single_parent", 6),
                   ("young_couple", 3)])
# ages of old people, by 5-year band, shaped on the 2024 pyramid above 55
_ELDER_BANDS = ((55, 3.6), (60, 4.6), (65, 3.6), (70, 2.4), (75, 1.4), (80, 0.95), (85, 0.5),
                (90, 0.18), (95, 0.04))
_ELDER_AGE = Weighted(list(_ELDER_BANDS))
# living alone is far more common after widowhood, i.e. at higher ages
_LONE_ELDER_AGE = Weighted([(a, w * f) for (a, w), f in zip(
    _ELDER_BANDS[1:], (1, 1.4, 2.0, 2.8, 3.4, 3.8, 3.8, 3.8), strict=True)])
_MAX_DURATION_YEARS = {"iud": 10, "implant": 3, "injectable": 2, "pill": 4, "condom": 5,
                       "female_sterilization": 18, "male_sterilization": 18, "lam": 0.4}
_EDU_NEXT = {"lower_secondary": "upper_secondary", "upper_secondary": "college_university",
             "primary": "lower_secondary"}
# spelling variants a clerk corrects (old/new tone placement, y/i)
_SPELLING = {"Hòa": "Hoà", "Thủy": "Thuỷ", "Thúy": "Thuý", "Thùy": "Thuỳ", "Quý": "Quí",
             "Lý": "Lí"}
_STYLE_OF: dict[str, NameStyle] = {eth: nm.STYLES[key] for eth, key in nm.ETHNIC_STYLE.items()}


def _age_band(age: float) -> str:
    if age < 25:
        return "15-24"
    if age < 35:
        return "25-34"
    if age < 45:
        return "35-44"
    return "45-49"


def _fertility(age: float) -> float:
    if age < 15 or age >= 50:
        return 0.0
    return tb.MARRIED_FERTILITY[min(45, int(age // 5) * 5)]


def _ethnic_mix(seed: int, commune_code: str) -> tuple[Weighted[str], bool]:
    """The commune's ethnic mix, and whether it is a remote, minority-majority commune.

    Minorities are concentrated: a province where 30 % are Khmer has communes that
    are mostly Khmer and communes that are almost all Kinh.
    """
    province = tb.province_of(commune_code)
    mix = tb.PROVINCE_ETHNIC.get(province, tb.DEFAULT_ETHNIC)
    minority = sum(mix.values()) / 100
    if minority < 0.03:
        return Weighted([("kinh", 100 - 100 * minority), *mix.items()]), False
    rng = random.Random(f"a0sync/synthetic/ethnic:{seed}:{commune_code}")
    main = Weighted(list(mix.items())).pick(rng.random())
    total = sum(mix.values())
    if rng.random() < minority:
        share = 0.80 + 0.18 * rng.random()
        pairs = [(k, share * (0.3 * v / total + (0.7 if k == main else 0))) for k, v in mix.items()]
        return Weighted([("kinh", 1 - share), *pairs]), True
    share = 0.08 * minority
    return Weighted([("kinh", 1 - share), *((k, share * v / total) for k, v in mix.items())]), False


class _Person:
    __slots__ = ("age", "bhyt", "birth", "divorced_on", "eth", "family", "hh", "id", "kids",
                 "male", "marital", "mother", "name", "rec", "relation", "since", "sons",
                 "spouse", "status", "stop", "stop_extra", "stop_kind", "year_only", "youngest")

    def __init__(self, pid: str = "", hh: _Household | None = None, male: bool = False,
                 birth: int = 0, age: int = 0, relation: str = "", marital: str = "",
                 status: str = "present", eth: str = "kinh", family: str = "", since: int = 0,
                 stop: int = 0) -> None:
        self.id = pid
        self.hh = hh
        self.male = male
        self.birth = birth
        self.age = age
        self.relation = relation
        self.marital = marital
        self.status = status
        self.eth = eth
        self.family = family
        self.since = since
        self.stop = stop        # first day with no more events (exclusive bound)
        self.name = ""
        self.mother: _Person | None = None
        self.spouse: _Person | None = None
        self.kids = 0
        self.sons = 0
        self.youngest = 0
        self.stop_kind = ""     # death | move_out: the terminal event on day ``stop``
        self.stop_extra: Record = {}
        self.divorced_on = 0
        self.year_only = False
        self.bhyt: str | None = None
        self.rec: Record | None = None


class _Household:
    __slots__ = ("id", "members", "move_day", "number", "rec")

    def __init__(self, hid: str, number: str) -> None:
        self.id = hid
        self.number = number
        self.members: list[_Person] = []
        self.move_day = 0   # whole household moves out on this day (0: never)


class _AreaGen:
    """The state of one area while it is generated, household by household.

    :meth:`household` composes a household and settles its facts at once, so the
    households generated so far are always complete (``max_persons`` relies on it).
    """

    def __init__(self, seed: int, area_code: str, village_code: str, commune_name: str,
                 village_name: str | None, period: tuple[dt.date, dt.date]) -> None:
        start, end = period
        if end < start:
            raise ValueError("period ends before it starts")
        self.rng = random.Random(f"a0sync/synthetic/area:{seed}:{area_code}")
        self.bits = self.rng.getrandbits
        self.rand = self.rng.random
        self.area_code = area_code
        self.village_code = village_code
        self.commune_code = area_code.split(".")[0]
        self.commune_name = commune_name
        self.village_name = village_name or f"Thôn {village_code.rsplit('.', 1)[-1]}"
        self.S = start.toordinal()
        self.E = end.toordinal()
        self.end = self.E + 1
        first = start.replace(day=1)
        self.months: list[int] = []   # first day of every month that overlaps the period
        while first <= end:
            self.months.append(first.toordinal())
            first = (first + dt.timedelta(days=32)).replace(day=1)
        self.years = (self.end - self.S) / DPY
        self.whole: dict[float, float] = {}
        whole = self.years
        self.p_move_hh = self.chance(0.004, whole)
        self.p_labour = {True: self.chance(0.022, whole), False: self.chance(0.015, whole)}
        self.p_return = self.chance(0.15, whole)
        self.p_divorce = self.chance(0.0022, whole)
        # death within the whole period, by sex and age: most people are there throughout
        self.death_p = {male: [self.chance(tb.death_rate(a, male), self.years) for a in range(121)]
                        for male in (False, True)}
        province = tb.province_of(self.commune_code)
        self.kinh_surnames = nm.KINH_SURNAMES[tb.region_of(province)]
        self.ethnic, self.remote = _ethnic_mix(seed, self.commune_code)
        self.urban = self.village_name.startswith(("Tổ dân phố", "Khu phố"))
        self.bhyt_next = bhyt_base(area_code)
        self.bhyt_end = self.bhyt_next + BHYT_AREA_CAPACITY
        self.households: list[Record] = []
        self.members: list[Record] = []
        self.woman_status: list[Record] = []
        self.events: list[Record] = []
        self.distributions: list[Record] = []
        self.last_number = 0
        self.sub_number = 0
        self.collaborator_name = ""

    # -- random helpers (randint/randrange are several times slower) -------------------

    def chance(self, rate: float, span: float) -> float:
        """Probability of at least one event of an annual ``rate`` within ``span`` years."""
        if span == self.years:
            p = self.whole.get(rate)
            if p is None:
                p = self.whole[rate] = 1 - math.exp(-rate * span)
            return p
        return 1 - math.exp(-rate * span)

    def ri(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi]."""
        return lo + int(self.rand() * (hi - lo + 1))

    def rr(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi), or lo when the range is empty."""
        return lo + int(self.rand() * (hi - lo)) if hi > lo else lo

    # -- identities -------------------------------------------------------------------

    def uid(self) -> str:
        return _uuid(self.bits(128))

    def new_bhyt(self) -> str | None:
        if self.bhyt_next >= self.bhyt_end:
            return None  # the area outgrew its slot: leave the rest without a number
        n = self.bhyt_next
        self.bhyt_next += 1
        return scramble_bhyt(n)

    @staticmethod
    def style(eth: str) -> NameStyle | None:
        """The naming style of an ethnic group (None: Kinh)."""
        return _STYLE_OF.get(eth)

    def surname(self, eth: str) -> str:
        style = self.style(eth)
        if style is None:
            return self.kinh_surnames.pick(self.rng.random())
        if style.surnames is None:
            return ""
        return style.surnames.pick(self.rng.random())

    def full_name(self, male: bool, family: str, eth: str, birth_year: int) -> str:
        r = self.rand
        style = _STYLE_OF.get(eth)
        young = birth_year >= 1980
        if style is None and male:   # the common case, kept short
            middle = (nm.MALE_MIDDLE_NEW if young else nm.MALE_MIDDLE_OLD).pick(r())
            given = (nm.MALE_GIVEN_NEW if young else nm.MALE_GIVEN_OLD).pick(r())
            return f"{family} {middle} {given}"
        if style is None or style.pattern == "family":
            # minorities' own middle names (Văn/Thị-heavy, A/Seo for the Mông…) for older
            # people and for groups with local names; younger people follow Kinh fashion
            mids = (style.male_middle if male else style.female_middle) if style else None
            if mids is not None and (not young or style.local_share > 0 or eth == "hoa"):
                middle = mids.pick(r())
            elif male:
                middle = (nm.MALE_MIDDLE_NEW if young else nm.MALE_MIDDLE_OLD).pick(r())
            else:
                middle = (nm.FEMALE_MIDDLE_NEW if young else nm.FEMALE_MIDDLE_OLD).pick(r())
                if birth_year >= 1985 and middle == "Thị" and r() < 0.12:
                    middle = f"{middle} {nm.FEMALE_SECOND_MIDDLE.pick(r())}"
            given = self.given(male, style, young)
            return f"{family} {middle} {given}" if family else f"{middle} {given}"
        given = self.given(male, style, young)
        prefix = style.male_prefix if male else style.female_prefix
        if prefix:
            given = f"{prefix}{given}" if prefix.endswith("'") else f"{prefix} {given}"
        if style.pattern == "clan_last":
            return f"{given} {family}"
        if style.pattern == "clan_first":
            return f"{family} {given}"
        return given

    def given(self, male: bool, style: NameStyle | None, young: bool) -> str:
        r = self.rng.random
        if style is not None and style.local_share and r() < style.local_share:
            local = style.male_given if male else style.female_given
            if local is not None:
                return local.pick(r())
        if male:
            return (nm.MALE_GIVEN_NEW if young else nm.MALE_GIVEN_OLD).pick(r())
        return (nm.FEMALE_GIVEN_NEW if young else nm.FEMALE_GIVEN_OLD).pick(r())

    # -- people -----------------------------------------------------------------------

    def person(self, hh: _Household, male: bool, birth: int, relation: str, marital: str,
               eth: str, family: str | None = None, status: str = "present") -> _Person:
        p = _Person(_uuid(self.bits(128)), hh, male, birth, int((self.S - birth) / DPY),
                    relation, marital, status, eth,
                    self.surname(eth) if family is None else family, self.S, self.end)
        hh.members.append(p)
        return p

    def adult(self, hh: _Household, male: bool, age: int, relation: str, marital: str,
              eth: str, family: str | None = None) -> _Person:
        birth = self.S - int((age + self.rng.random()) * DPY) - 1
        return self.person(hh, male, birth, relation, marital, eth, family)

    def couple(self, hh: _Household, h_age: int, head_male: bool, eth: str,
               head_rel: str = "head", spouse_rel: str = "spouse") -> tuple[_Person, _Person]:
        rng = self.rng
        gap = min(12, max(-3, round(rng.gauss(3.5, 3.0))))
        w_age = max(17, h_age - gap)
        w_eth = eth if rng.random() < 0.93 else self.ethnic.pick(rng.random())
        husband = self.adult(hh, True, h_age, head_rel if head_male else spouse_rel,
                             "married", eth)
        wife = self.adult(hh, False, w_age, spouse_rel if head_male else head_rel,
                          "married", w_eth)
        husband.spouse, wife.spouse = wife, husband
        return husband, wife

    def head_is_male(self, eth: str) -> bool:
        style = self.style(eth)
        if style is not None and style.matrilineal:
            return self.rng.random() < 0.2
        return self.rng.random() < 0.9

    def child_family(self, father: _Person | None, mother: _Person) -> str:
        """Children take the father's family name, the mother's clan in matrilineal groups."""
        style = self.style(mother.eth)
        if style is not None and style.matrilineal and mother.family:
            return mother.family
        if father is not None and father.family:
            return father.family
        return self.surname(father.eth if father is not None else mother.eth)

    def children(self, hh: _Household, father: _Person | None, mother: _Person,
                 relation: str, cap: int = 6) -> list[_Person]:
        """Children of a woman born before the period; grown children may have left."""
        rng = self.rng
        r = rng.random()
        high = mother.eth in tb.HIGH_FERTILITY_GROUPS
        born = mother.birth
        if _year(born) >= 1975:
            n = 0 if r < 0.03 else 1 if r < 0.2 else 2 if r < 0.7 else 3 if r < 0.93 else 4
        else:
            n = 1 if r < 0.1 else 2 if r < 0.45 else 3 if r < 0.75 else 4 if r < 0.9 else 5
        if high:
            n += 1 + (rng.random() < 0.5)
        at = min(36.0, max(17.0, rng.gauss(21.0 if high else 23.5, 3.5)))
        out: list[_Person] = []
        eth = father.eth if father is not None else mother.eth
        family = self.child_family(father, mother)
        for _ in range(n):
            cb = born + int(at * DPY)
            if cb >= self.S:
                break
            at += min(10.0, max(1.3, rng.gauss(3.2, 1.5)))
            year = _year(cb)
            male = rng.random() < (0.526 if year >= 2005 else 0.515)
            age = (self.S - cb) / DPY
            mother.kids += 1
            mother.sons += male
            mother.youngest = cb
            if age >= 18:
                leave = 0.25 if age < 22 else 0.55 if age < 26 else 0.8 if age < 30 else 0.95
                if not male:
                    leave = min(0.98, leave * 1.25)
                if rng.random() < leave or len(hh.members) >= cap + 2:
                    continue
            if len(hh.members) >= 9:
                continue
            c = self.person(hh, male, cb, relation, "single", eth, family)
            if c.age >= 18 and rng.random() < 0.1:
                c.status = "absent"
            c.mother = mother if mother.hh is hh else None
            out.append(c)
        return out

    def compose(self, hh: _Household) -> None:
        """The household as it stands at the start of the period."""
        rng = self.rng
        r = rng.random
        eth = self.ethnic.pick(r())
        kind = _KINDS.pick(r())
        if kind == "nuclear":
            h_age = self.ri(26, 59)
            head_male = self.head_is_male(eth)
            husband, wife = self.couple(hh, h_age, head_male, eth)
            if r() < 0.06:
                husband.status = "absent"
            self.children(hh, husband, wife, "child")
        elif kind == "three_gen":
            self.three_generations(hh, eth)
        elif kind == "elder_couple":
            self.couple(hh, _ELDER_AGE.pick(r()) + self.ri(2, 6), True, eth)
        elif kind == "single_elder":
            male = r() < 0.18
            u = r()
            marital = "widowed" if u < 0.85 else "single" if u < 0.92 else "divorced"
            self.adult(hh, male, _LONE_ELDER_AGE.pick(r()) + self.ri(0, 4), "head", marital,
                       eth)
        elif kind == "single_adult":
            u = r()
            marital = ("single" if u < 0.5 else "divorced" if u < 0.68 else "separated"
                       if u < 0.75 else "widowed" if u < 0.85 else "married")
            self.adult(hh, r() < 0.55, self.ri(20, 59), "head", marital, eth)
        elif kind == "single_parent":
            male = r() < 0.15
            u = r()
            marital = ("widowed" if u < 0.35 else "divorced" if u < 0.7 else "separated"
                       if u < 0.85 else "single")
            parent = self.adult(hh, male, self.ri(27, 56), "head", marital, eth)
            if not male:
                self.children(hh, None, parent, "child", cap=4)
            else:
                # the absent mother: only her dates and group are needed
                mother = _Person(birth=parent.birth + 1100, eth=eth)
                self.children(hh, parent, mother, "child", cap=3)
        else:  # young couple
            self.couple(hh, self.ri(21, 33), self.head_is_male(eth), eth)
        if r() < 0.03 and len(hh.members) < 8:
            age = self.ri(8, 25) if r() < 0.7 else self.ri(60, 85)
            self.adult(hh, r() < 0.5, age, "other_relative",
                       "single" if age < 60 else "widowed", eth)
        elif r() < 0.01 and len(hh.members) < 8:
            self.adult(hh, r() < 0.4, self.ri(18, 50), "other", "single",
                       self.ethnic.pick(r()))

    def three_generations(self, hh: _Household, eth: str) -> None:
        rng = self.rng
        r = rng.random
        gm_age = _ELDER_AGE.pick(r()) + self.ri(0, 4) - 2
        son_age = max(22, gm_age - int(min(42, max(19, rng.gauss(28, 5)))))
        if gm_age - son_age < 17:
            gm_age = son_age + 17
        gf_age = gm_age + min(12, max(-3, round(rng.gauss(3.5, 3.0))))
        u = r()
        couple_p = 0.72 if gm_age < 70 else 0.38
        has_gf, has_gm = (True, True) if u < couple_p else (
            (False, True) if r() < 0.86 else (True, False))
        son_head = not has_gf or gf_age >= 72 or r() < 0.2
        in_law = son_head and not has_gf and r() < 0.08
        rel_old = ("parent_in_law" if in_law else "parent") if son_head else "head"
        rel_son = "head" if son_head else "child"
        rel_dil = "spouse" if son_head else "child_in_law"
        rel_kid = "child" if son_head else "grandchild"
        rel_sib = "sibling" if son_head else "child"
        old_eth = eth if not in_law else self.ethnic.pick(r())
        gf = gm = None
        if has_gf:
            gf = self.adult(hh, True, gf_age, rel_old, "married" if has_gm else "widowed", old_eth)
        if has_gm:
            gm_rel = rel_old if son_head else ("spouse" if has_gf else "head")
            gm = self.adult(hh, False, gm_age, gm_rel, "married" if has_gf else "widowed",
                            old_eth)
            gm.kids = 2 + (r() < 0.5) + (r() < 0.3)
        if gf is not None and gm is not None:
            gf.spouse, gm.spouse = gm, gf
        family = gf.family if gf is not None and not in_law else self.surname(eth)
        son = self.adult(hh, True, son_age, rel_son, "married", eth, family)
        if gm is not None and not in_law:
            son.mother = gm
        gap = min(12, max(-3, round(rng.gauss(3.5, 3.0))))
        dil_eth = eth if r() < 0.93 else self.ethnic.pick(r())
        dil = self.adult(hh, False, max(18, son_age - gap), rel_dil, "married", dil_eth)
        son.spouse, dil.spouse = dil, son
        if in_law:
            dil.mother = gm
        kids = self.children(hh, son, dil, rel_kid, cap=5)
        if kids and r() < 0.12:
            son.status = dil.status = "absent"   # parents work away; grandparents raise the kids
        elif r() < 0.06:
            son.status = "absent"
        if r() < 0.25 and son_age > 25 and len(hh.members) < 8:
            age = son_age - self.ri(2, 10)
            if age >= 15:
                sib = self.adult(hh, r() < 0.5, age, rel_sib, "single", eth, family)
                sib.mother = gm if not in_law else None

    # -- base records -----------------------------------------------------------------

    def education(self, age: int, eth: str) -> str:
        r = self.rng.random
        if age < 6:
            return "not_yet"
        if age < 11:
            return "primary"
        if age < 15:
            return "lower_secondary" if age > 11 or r() < 0.5 else "primary"
        if age < 18:
            u = r()
            return "upper_secondary" if u < 0.8 else "lower_secondary" if u < 0.95 else "vocational"
        band = "18-24" if age < 25 else "25-39" if age < 40 else "40-59" if age < 60 else "60+"
        if eth in tb.HIGH_FERTILITY_GROUPS and band != "60+":
            band = {"18-24": "40-59", "25-39": "40-59", "40-59": "60+"}[band]
        return _EDU[band].pick(r())

    def member_record(self, p: _Person, registered_on: int) -> Record:
        r = self.rng.random
        year = _year(p.birth)
        p.name = self.full_name(p.male, p.family, p.eth, year)
        p.year_only = (year < 1960 and r() < 0.15) or (year < 1990 and r() < 0.01)
        rec: Record = {
            "id": p.id,
            "household_id": p.hh.id,
            "full_name": p.name,
            "relation": p.relation,
            "sex": "male" if p.male else "female",
            "birth_date": str(year) if p.year_only else _iso(p.birth),
            "ethnicity": p.eth,
            "education": self.education(p.age, p.eth),
            "marital_status": p.marital,
            "residence_status": p.status,
        }
        cover = 0.99 if p.age < 6 else 0.98 if p.age >= 80 else (
            0.97 if self.remote else 0.885)
        if r() < cover:
            p.bhyt = self.new_bhyt()
            if p.bhyt:
                rec["bhyt_number"] = p.bhyt
        if p.mother is not None:
            rec["mother_id"] = p.mother.id
        rec["registered_on"] = _iso(registered_on)
        p.rec = rec
        return rec

    def household(self, index: int) -> None:
        rng = self.rng
        r = rng.random
        if index and r() < 0.015:
            self.sub_number += 1
            number = f"{self.last_number}.{self.sub_number}"
        else:
            self.last_number += 1
            self.sub_number = 0
            number = str(self.last_number)
        hh = _Household(self.uid(), number)
        self.compose(hh)
        head = next(p for p in hh.members if p.relation == "head")
        address = self.address(int(number.split(".")[0]))
        hh.rec = {"id": hh.id, "area_code": self.area_code, "village_code": self.village_code,
                  "number": number, "address": address, "head_member_id": head.id}
        self.households.append(hh.rec)
        moved_in = r() < self.chance(0.007, self.years)
        if moved_in:
            day = self.rr(self.S, self.end)
            kind = "temporary" if r() < (0.5 if self.urban else 0.3) else "present"
            scope = _SCOPE_IN.pick(r())
            place = self.place(scope)
            for p in hh.members:
                p.since = day + 1
                if p.status != "absent":
                    p.status = kind
                self.members.append(self.member_record(p, day))
                if p.status != "absent":
                    self.event("move_in", p, day, from_scope=scope, from_place=place,
                               residence_type=kind)
        else:
            reg = self.S - self.ri(30, 6 * 365)
            for p in hh.members:
                day = max(reg, p.birth + self.ri(1, 40))
                if p.relation in ("spouse", "child_in_law") and p.spouse is not None:
                    day = max(day, p.birth + int(18 * DPY))
                self.members.append(self.member_record(p, min(day, self.S - 1)))
        self.simulate(hh)

    def address(self, number: int) -> str:
        r = self.rng.random
        if self.urban:
            house = self.ri(1, 250)
            if r() < 0.5:
                return f"Số {house}, ngõ {self.ri(1, 120)}, {self.village_name}"
            return f"Số {house}, {self.village_name}, {self.commune_name}"
        if r() < 0.4:
            return f"Xóm {1 + number // 40}, {self.village_name}, {self.commune_name}"
        return f"{self.village_name}, {self.commune_name}"

    def place(self, scope: str) -> str:
        r = self.rng.random
        if scope == "abroad":
            return nm.PLACES_ABROAD[int(r() * len(nm.PLACES_ABROAD))]
        if scope == "other_province":
            return nm.PLACES_OTHER_PROVINCE[int(r() * len(nm.PLACES_OTHER_PROVINCE))]
        if scope == "same_commune":
            return f"Thôn {self.ri(1, 12)}, {self.commune_name}"
        return f"Xã {nm.THON_NAMES[int(r() * len(nm.THON_NAMES))]}"

    # -- events -----------------------------------------------------------------------

    def event(self, form: str, p: _Person, day: int, **extra: Any) -> Record:
        e: Record = {"form": form, "id": _uuid(self.bits(128)), "household_id": p.hh.id,
                     "member_id": p.id, "event_date": _iso(day)}
        e.update(extra)
        if self.applies(form, e, p):
            self.events.append(e)
        return e

    def hand_out(self, p: _Person, record: Record) -> None:
        if self.applies(DISTRIBUTION_FORM, record, p):
            self.distributions.append(record)

    @staticmethod
    def applies(form: str, record: Record, p: _Person) -> bool:
        """What a collaborator's app would let through (schemas/applicability.json): a
        woman who turns 50 during the period gets no more pills and starts no method.
        Checked after every random draw, so leaving a record out changes no other."""
        return p.rec is None or applicability().check(form, record, p.rec) is None

    def set_stop(self, p: _Person, day: int, kind: str, **extra: Any) -> None:
        if p.since <= day < p.stop:
            p.stop, p.stop_kind, p.stop_extra = day, kind, extra

    def simulate(self, hh: _Household) -> None:
        """The period's facts for one household, in an order that keeps them consistent.

        Terminal facts (death, moving out) are settled first, so that every later
        fact about a person falls strictly before them.
        """
        rng = self.rng
        r = rng.random
        members = list(hh.members)
        wives = [p for p in members if not p.male and p.marital == "married"
                 and 15 <= p.age <= 49 and p.status in ("present", "temporary")]
        death_p = self.death_p
        for p in members:
            if p.since == self.S:
                risk = death_p[p.male][min(p.age, 120)]
            elif p.since < p.stop:
                risk = self.chance(tb.death_rate(p.age, p.male), (p.stop - p.since) / DPY)
            else:
                continue
            if r() < risk:
                day = self.rr(p.since, p.stop)
                # the cause is often unknown to the collaborator
                cause = {"cause_group": _CAUSE.pick(r())} if r() < 0.85 else {}
                self.set_stop(p, day, "death", **cause)
        if r() < self.p_move_hh:
            day = self.rr(self.S, self.end)
            if day >= members[0].since:
                hh.move_day = day
                scope = _SCOPE_OUT.pick(r())
                place = self.place(scope)
                for p in members:
                    if p.status in ("present", "temporary"):
                        self.set_stop(p, day, "move_out", to_scope=scope, to_place=place)
        for p in members:   # labour migration of young adults
            if (p.status == "present" and 17 <= p.age <= 39 and p.relation != "head"
                    and r() < self.p_labour[p.male]):
                day = self.rr(p.since, self.end)
                scope = _SCOPE_OUT.pick(r())
                self.set_stop(p, day, "move_out", to_scope=scope, to_place=self.place(scope))
        self.divorces(hh, members)
        brides: list[tuple[_Person, _Person | None, int]] = []
        for p in members:
            if p.marital == "single" and p.status == "present":
                found = self.marriage(hh, p)
                if found is not None:
                    brides.append(found)
        for p in members:
            if p.stop_kind:
                self.event(p.stop_kind, p, p.stop, **p.stop_extra)
            if p.status == "absent" and r() < self.p_return:
                day = self.rr(p.since, self.end)
                if day < p.stop:
                    p.status = "present"
                    self.event("move_in", p, day, from_scope="other_province",
                               from_place=self.place("other_province"), residence_type="present")
        for p in wives:
            husband = p.spouse if p.spouse is not None and p.spouse.hh is hh else None
            recorded = max(p.since - 1, self.S - self.ri(15, 120))
            if (recorded - p.birth) / DPY < 50:    # still 15–49 when recorded
                self.married_woman(p, husband, recorded, newly=False)
        for wife, husband, day in brides:
            self.married_woman(wife, husband, day, newly=True)
        for p in list(hh.members):
            self.checks_and_changes(p)

    def divorces(self, hh: _Household, members: Sequence[_Person]) -> None:
        rng = self.rng
        r = rng.random
        for wife in members:
            husband = wife.spouse
            if (wife.male or husband is None or husband.hh is not hh or wife.marital != "married"
                    or wife.age > 60 or wife.status != "present" or husband.status != "present"):
                continue
            if r() >= self.p_divorce:
                continue
            last = min(wife.stop, husband.stop) - 32
            if last <= max(wife.since, husband.since):
                continue
            day = self.rr(max(wife.since, husband.since), last)
            # the spouse who stays is the subject; the other leaves the household
            stays, leaves = (wife, husband) if wife.relation in ("head", "child") else (
                husband, wife)
            self.event("divorce", stays, day, spouse_id=leaves.id)
            stays.marital = "divorced"
            stays.divorced_on = leaves.divorced_on = day
            scope = _SCOPE_OUT.pick(r())
            self.set_stop(leaves, day + self.ri(0, 30), "move_out", to_scope=scope,
                          to_place=self.place(scope))
            leaves.marital = "divorced"   # for the generator only: no more couple facts

    def marriage(self, hh: _Household, p: _Person) -> tuple[_Person, _Person | None, int] | None:
        """Maybe marry a single person; returns (wife, husband, day) if a wife stays here."""
        rng = self.rng
        r = rng.random
        age = p.age
        if p.male:
            rate = 0.0 if age < 20 else 0.08 if age < 25 else 0.17 if age < 30 else (
                0.12 if age < 35 else 0.05 if age < 40 else 0.0)
        else:
            rate = 0.0 if age < 18 else 0.08 if age < 20 else 0.17 if age < 25 else (
                0.15 if age < 30 else 0.07 if age < 35 else 0.0)
        if rate == 0.0 or r() >= self.chance(rate, self.years):
            return None
        last = p.stop - 2
        if last <= p.since:
            return None
        day = self.rr(p.since, last)
        spouse_eth = p.eth if r() < 0.9 else self.ethnic.pick(r())
        spouse_family = self.surname(spouse_eth)
        spouse_birth = p.birth + (int(rng.gauss(-3.5, 2.5) * DPY) if not p.male
                                  else int(rng.gauss(3.5, 2.5) * DPY))
        spouse_birth = min(spouse_birth, day - int(18 * DPY))
        spouse_name = self.full_name(not p.male, spouse_family, spouse_eth,
                                     _year(spouse_birth))
        u = r()
        join = u < (0.75 if p.male else 0.15)
        if not p.male and not join and u < 0.85:
            # she moves to her husband's family
            self.event("marriage", p, day, spouse_name=spouse_name)
            scope = _SCOPE_MARRIAGE.pick(r())
            self.set_stop(p, day + self.ri(1, 45), "move_out", to_scope=scope,
                          to_place=self.place(scope))
            p.marital = "married"
            return None
        if p.male and not join:
            self.event("marriage", p, day, spouse_name=spouse_name)
            p.marital = "married"
            if r() < 0.3:
                scope = _SCOPE_MARRIAGE.pick(r())
                self.set_stop(p, day + self.ri(1, 60), "move_out", to_scope=scope,
                              to_place=self.place(scope))
            return None
        spouse: _Person | None = None
        arrive = day
        if join:
            arrive = day + self.ri(0, 30)
            if arrive >= p.stop or arrive >= self.end:
                join = False
        if join:
            rel = {"head": "spouse", "child": "child_in_law"}.get(p.relation, "other_relative")
            spouse = self.person(hh, not p.male, spouse_birth, rel, "married", spouse_eth,
                                 spouse_family)
            spouse.since = arrive + 1
            spouse.status = "present"
            rec = self.member_record(spouse, arrive)
            rec["full_name"] = spouse.name = spouse_name
            self.members.append(rec)
            if hh.move_day and arrive < hh.move_day:
                self.set_stop(spouse, hh.move_day, "move_out", to_scope="other_province",
                              to_place=self.place("other_province"))
            spouse.spouse, p.spouse = p, spouse
        self.event("marriage", p, day, spouse_name=spouse_name,
                   **({"spouse_id": spouse.id} if spouse is not None else {}))
        p.marital = "married"
        if spouse is not None:
            if spouse.stop_kind:
                self.event(spouse.stop_kind, spouse, spouse.stop, **spouse.stop_extra)
            scope = _SCOPE_MARRIAGE.pick(r())
            self.event("move_in", spouse, arrive, from_scope=scope, from_place=self.place(scope),
                       residence_type="present")
        wife, husband = (spouse, p) if p.male else (p, spouse)
        if wife is None or not 15 <= (day - wife.birth) / DPY < 50:
            return None
        return wife, husband, (arrive if p.male else day)

    def married_woman(self, w: _Person, husband: _Person | None, recorded: int,
                      newly: bool) -> None:
        """Status record, pregnancies, births and method changes of a married woman 15–49.

        Conceptions are drawn first (age × parity hazard); the contraceptive history
        is then built around them: a method is stopped ("want_child") before each
        conception, and often a new one is taken up after the birth.
        """
        rng = self.rng
        r = rng.random
        first = max(self.S, recorded + 1)        # first day an event can fall on
        end = min(w.stop, _birthday(w.birth, 50))  # the couples' register ends at 49
        if husband is not None and husband.stop_kind:   # widowed or husband left
            end = min(end, husband.stop)
        if w.divorced_on:
            end = min(end, w.divorced_on)
        age_at = (recorded - w.birth) / DPY
        band = _age_band(age_at)
        if newly:
            u = r()
            m0 = ("none" if u < 0.72 else "pill" if u < 0.84 else "condom" if u < 0.96
                  else "withdrawal")
        else:
            m0 = _MIX_BY_AGE[band].pick(r())
            if w.kids == 0 and m0 in tb.PERMANENT_METHODS:
                m0 = "none"
        high = w.eth in tb.HIGH_FERTILITY_GROUPS
        away = husband is None or husband.status == "absent"
        plans: list[tuple[int, str, int]] = []
        if m0 not in tb.PERMANENT_METHODS:
            t = max(self.S - 262, w.youngest + 456 if w.youngest else 0,
                    recorded + 20 if newly else 0)
            parity = w.kids
            while True:
                age = (t - w.birth) / DPY
                h = _fertility(age)
                if h <= 0:
                    break
                h *= tb.PARITY_FACTOR[min(parity, 4)] * (1.8 if high else 1.0) * (
                    0.35 if away else 1.0)
                h_max = h / 0.84
                c = t + 1 + int(rng.expovariate(h_max) * DPY)
                if c >= end:
                    break
                if r() > _fertility((c - w.birth) / DPY) / max(_fertility(age), 1e-9):
                    t = c
                    continue
                u = r()
                if u < 0.08:
                    plans.append((c, "miscarriage", c + self.ri(45, 110)))
                elif u < 0.15:
                    plans.append((c, "abortion", c + self.ri(35, 84)))
                elif u < 0.155:
                    plans.append((c, "stillbirth", c + self.ri(200, 280)))
                else:
                    plans.append((c, "live_birth", c + min(300, max(230, int(rng.gauss(273, 9))))))
                    parity += 1
                o = plans[-1][2]
                t = o + (self.ri(365, 720) if plans[-1][1] == "live_birth"
                         else self.ri(60, 240))
            plans = [p for p in plans if p[2] >= first or p[0] >= first]
        leads = [self.ri(20, 240) for _ in plans]
        if plans and (plans[0][0] <= recorded or plans[0][0] - leads[0] < first):
            m0 = "none"   # pregnant already, or stopped before this period
        rec: Record = {"member_id": w.id, "recorded_on": _iso(recorded), "current_method": m0}
        if m0 != "none":
            lower = max(w.birth + int(16 * DPY), w.youngest + 42 if w.youngest else 0)
            longest = int(_MAX_DURATION_YEARS.get(m0, 8) * DPY)
            start = recorded - self.ri(0, longest) if not newly else recorded
            rec["method_start"] = _iso(min(recorded, max(start, lower)))
        rec["living_children"] = w.kids
        if husband is not None:
            rec["husband_id"] = husband.id
        self.woman_status.append(rec)
        changes: list[tuple[int, str]] = [(recorded, m0)]
        cur = m0
        day = first
        for i, (c, outcome, o) in enumerate(plans):
            stop_day = c - leads[i]
            cur, day = self.method_changes(w, cur, day, min(stop_day, end), changes, away,
                                            False)
            if cur != "none" and day <= stop_day < end:
                self.event("method_stop", w, stop_day, method=cur, reason="want_child")
                cur, day = "none", stop_day + 1
                changes.append((stop_day, cur))
            elif cur != "none":
                break  # should not happen: the plan is inconsistent; stop the woman's story
            seen = c + self.ri(42, 90)
            if first <= seen < min(o, end):
                self.event("pregnancy", w, seen, outcome="pregnant",
                           expected_date=_iso(c + 280))
                scr = seen + self.ri(20, 80)
                if scr < min(o, end) and r() < 0.7:
                    self.event("prenatal_screening", w, scr, screening=_PRENATAL.pick(r()),
                               result=_SCREEN_RESULT.pick(r()))
            if o >= end:
                day = end
                break
            if outcome == "live_birth":
                self.birth(w, husband, o)
            else:
                self.event("pregnancy", w, o, outcome=outcome)
            day = o + 1
            nxt = plans[i + 1][0] - leads[i + 1] if i + 1 < len(plans) else end
            if r() < (0.65 if outcome == "live_birth" else 0.45):
                method = _POSTPARTUM.pick(r())
                if outcome != "live_birth" and method == "lam":
                    method = "pill"
                when = o + (self.ri(3, 40) if method == "lam" else self.ri(42, 150))
                if day <= when < min(nxt, end):
                    self.start_method(w, when, method)
                    cur, day = method, when + 1
                    changes.append((when, cur))
                    if method == "lam":
                        later = o + self.ri(170, 190)
                        if day <= later < min(nxt, end):
                            new = _POSTPARTUM.pick(r())
                            new = "pill" if new == "lam" else new
                            self.event("method_switch", w, later, from_method="lam", method=new)
                            cur, day = new, later + 1
                            changes.append((later, cur))
        else:
            cur, day = self.method_changes(w, cur, day, end, changes, away, True)
        self.supplies(w, changes, first, end)

    def start_method(self, w: _Person, day: int, method: str) -> None:
        u = self.rand()
        source = (_SOURCE[method].pick(u) if method in _SOURCE
                  else _STERILIZATION_SOURCE.pick(u) if method in tb.PERMANENT_METHODS
                  else _CLINICAL_SOURCE.pick(u))
        self.event("method_start", w, day, method=method, source=source)

    def method_changes(self, w: _Person, cur: str, day: int, until: int,
                       changes: list[tuple[int, str]], away: bool,
                       final: bool) -> tuple[str, int]:
        """Spontaneous starts, stops and switches between ``day`` and ``until``.

        ``final``: no pregnancy follows, so a sterilisation is possible.
        """
        rng = self.rng
        r = rng.random
        while day < until:
            age = (day - w.birth) / DPY
            if cur in tb.PERMANENT_METHODS:
                return cur, until
            if cur == "none":
                start, switch, stop = (0.12 if w.kids and age < 47 else 0.02), 0.0, 0.0
            elif cur in tb.TRADITIONAL_METHODS:
                start, switch, stop = 0.0, 0.06, 0.01
            else:
                start = 0.0
                switch = 0.025 if cur in ("iud", "implant") else 0.05
                stop = 0.035 + (0.06 if age >= 45 else 0.0)
            total = start + switch + stop
            if total <= 0:
                return cur, until
            day += 1 + int(rng.expovariate(total) * DPY)
            if day >= until:
                return cur, until
            u = r() * total
            if u < start:
                new = _SWITCH.pick(r()) if age < 38 or r() < 0.7 else "female_sterilization"
                if new in tb.PERMANENT_METHODS and (w.kids < 2 or not final):
                    new = "pill"
                self.start_method(w, day, new)
            elif u < start + switch:
                new = _SWITCH.pick(r())
                if new == cur or (new in tb.PERMANENT_METHODS and (w.kids < 2 or not final)):
                    continue
                self.event("method_switch", w, day, from_method=cur, method=new)
            else:
                new = "none"
                if age >= 45 and r() < 0.6:
                    reason = "menopause"
                elif away and r() < 0.5:
                    reason = "partner_away"
                else:
                    reason = _STOP_REASON.pick(r())
                self.event("method_stop", w, day, method=cur, reason=reason)
            cur = new
            changes.append((day, cur))
            day += 1
        return cur, until

    def birth(self, w: _Person, husband: _Person | None, day: int) -> None:
        rng = self.rng
        r = rng.random
        # sex ratio at birth ≈ 1.10 for first and second births, far higher for a third
        # birth in a family with no son yet (2019 census: ≈ 1.11 overall)
        boy_p = 0.52 if w.kids < 2 else (0.63 if w.sons == 0 else 0.52)
        male = r() < boy_p
        child = self.person(w.hh, male, day, "child", "single", w.eth,
                            self.child_family(husband, w))
        child.since = day + 1
        child.name = self.full_name(male, child.family, w.eth, _year(day))
        place = (_PLACE_REMOTE if self.remote else _PLACE).pick(r())
        weight = int(min(4800, max(1400, rng.gauss(3150 if male else 3050, 430))))
        self.event("birth", w, day, child_id=child.id, child_name=child.name,
                   sex="male" if male else "female", birth_order=w.kids + 1,
                   place_of_birth=place, birth_weight_g=weight // 10 * 10)
        w.kids += 1
        w.sons += male
        w.youngest = day
        child.mother = w
        if r() < 0.0115:   # infant death, most in the first weeks
            self.set_stop(child, day + 1 + int(rng.expovariate(1 / 45)), "death",
                          cause_group="disease")
        hh = w.hh
        if hh.move_day and day < hh.move_day:
            self.set_stop(child, hh.move_day, "move_out", to_scope="other_province",
                          to_place=self.place("other_province"))
        elif w.stop_kind == "move_out" and w.stop < child.stop:
            self.set_stop(child, w.stop, "move_out", **w.stop_extra)
        if child.stop_kind:
            self.event(child.stop_kind, child, child.stop, **child.stop_extra)
        screen = day + self.ri(1, 7)
        if screen < child.stop and r() < 0.75:
            self.event("newborn_screening", child, screen, screening=_NEWBORN.pick(r()),
                       result=_SCREEN_RESULT.pick(r()))
        card = day + self.ri(15, 90)
        if card < child.stop and r() < 0.6:
            number = self.new_bhyt()
            if number:
                self.event("change_info", child, card, bhyt_number=number)

    def checks_and_changes(self, p: _Person) -> None:
        """Elderly health checks and corrections of basic information."""
        if p.since > self.E or p.stop <= p.since:
            return
        r = self.rand
        span = (p.stop - p.since) / DPY
        if 24 <= p.age < 60 and p.bhyt is not None and not p.year_only:
            if r() < self.chance(0.004, span):   # the common case: at most a spelling fix
                self.fix_spelling(p)
            return
        if p.age >= 60 and r() < self.chance(0.6, span):
            self.event("elderly_check", p, self.rr(p.since, p.stop),
                       result=_ELDERLY.pick(r()))
        if p.year_only and r() < self.chance(0.08, span):
            self.event("change_info", p, self.rr(p.since, p.stop),
                       birth_date=_iso(p.birth))
        if p.bhyt is None and p.birth < self.S and r() < self.chance(0.25, span):
            number = self.new_bhyt()
            if number:
                self.event("change_info", p, self.rr(p.since, p.stop), bhyt_number=number)
        if 15 <= p.age <= 23 and r() < self.chance(0.1, span):
            nxt = _EDU_NEXT.get(p.rec["education"]) if p.rec else None
            if nxt:
                self.event("change_info", p, self.rr(p.since, p.stop), education=nxt)
        if r() < self.chance(0.004, span):
            self.fix_spelling(p)

    def fix_spelling(self, p: _Person) -> None:
        """A clerk rewrites a name in the other tone-mark convention (Hòa → Hoà)."""
        fixed = " ".join(_SPELLING.get(x, x) for x in p.name.split(" "))
        if fixed != p.name:
            self.event("change_info", p, self.rr(p.since, p.stop), full_name=fixed)

    def supplies(self, w: _Person, changes: list[tuple[int, str]], first: int, end: int) -> None:
        """Monthly hand-outs of pills and condoms by the collaborator."""
        if first >= end:
            return
        r = self.rand
        if not any(m in tb.SUPPLIED_METHODS for _, m in changes):
            # only the odd emergency pill: one draw for the whole period
            months = [m for m in self.months if first - 28 <= m < end]
            if months and r() < 1 - (1 - 0.006) ** len(months):
                day = min(end - 1, max(first, months[int(r() * len(months))] + self.ri(3, 24)))
                self.hand_out(w, {
                    "id": self.uid(), "area_code": self.area_code, "household_id": w.hh.id,
                    "member_id": w.id, "method": "emergency_pill", "quantity": 1,
                    "distributed_on": _iso(day)})
            return
        faithful = 0.85 if r() < 0.6 else 0.12   # gets supplies from the CTV, or buys them
        idx = 0
        skip = 0
        for month_start in self.months:
            if month_start >= end:
                break
            day = month_start + self.ri(3, 24)
            if skip:
                skip -= 1
                continue
            if not first <= day < end:
                continue
            while idx + 1 < len(changes) and changes[idx + 1][0] <= day:
                idx += 1
            method = changes[idx][1]
            if method in tb.SUPPLIED_METHODS:
                if r() >= faithful:
                    continue
                if method == "pill":
                    qty = 3 if r() < 0.35 else 1
                    skip = qty - 1
                else:
                    qty = (10, 12, 20, 24, 30)[int(r() * 5)]
                rec: Record = {"id": _uuid(self.bits(128)), "area_code": self.area_code,
                               "household_id": w.hh.id}
                if method == "pill" or r() < 0.75:
                    rec["member_id"] = w.id
                rec["method"] = method
                rec["quantity"] = qty
                rec["distributed_on"] = _iso(day)
                self.hand_out(w, rec)
            elif r() < 0.006:
                self.hand_out(w, {
                    "id": self.uid(), "area_code": self.area_code, "household_id": w.hh.id,
                    "member_id": w.id, "method": "emergency_pill", "quantity": 1,
                    "distributed_on": _iso(day)})

    def collaborator(self) -> str:
        r = self.rng.random
        eth = self.ethnic.pick(r())
        male = r() < 0.15
        year = _year(self.S) - self.ri(28, 55)
        return self.full_name(male, self.surname(eth), eth, year)

    def result(self) -> AreaRegister:
        self.events.sort(key=lambda e: e["event_date"])
        self.distributions.sort(key=lambda d: d["distributed_on"])
        return AreaRegister(self.area_code, self.village_code, self.commune_code,
                            self.collaborator_name, self.households, self.members,
                            self.woman_status, self.events, self.distributions)


def generate_area(seed: int, area_code: str, village_code: str, commune_name: str,
                  households: int, period: tuple[dt.date, dt.date], *,
                  village_name: str | None = None,
                  max_persons: int | None = None) -> AreaRegister:
    """One collaborator area: ``households`` households and the facts of ``period``.

    The result depends only on the arguments (the area's random stream is seeded
    from ``seed`` and ``area_code``), so an area generated alone equals the same
    area generated inside its commune. ``max_persons`` stops adding households
    once the register holds that many members (the last household is kept whole).
    """
    gen = _AreaGen(seed, area_code, village_code, commune_name, village_name, period)
    gen.collaborator_name = gen.collaborator()
    for i in range(households):
        gen.household(i)
        if max_persons is not None and len(gen.members) >= max_persons:
            break
    return gen.result()


def generate_commune(seed: int, commune_code: str, commune_name: str, households: int,
                     period: tuple[dt.date, dt.date],
                     villages: Sequence[LocalUnit] | None = None) -> Iterator[AreaRegister]:
    """All areas of a commune, one at a time (see :func:`commune_plan` for the split)."""
    for plan in commune_plan(seed, commune_code, households, villages):
        yield generate_area(seed, plan.area_code, plan.village_code, commune_name,
                            plan.households, period, village_name=plan.village_name)


def generate_persons(seed: int, communes: Sequence[tuple[str, str]], persons: int,
                     period: tuple[dt.date, dt.date]) -> Iterator[AreaRegister]:
    """About ``persons`` registered members spread evenly over ``communes``, area by area.

    Each commune's quota is filled area by area and the last area stops at the
    household that reaches it, so the total overshoots by less than one household
    per commune. Only one area is in memory at a time.
    """
    if not communes:
        raise ValueError("no communes")
    k = len(communes)
    for i, (code, name) in enumerate(communes):
        quota = persons // k + (1 if i < persons % k else 0)
        if quota <= 0:
            continue
        made = 0
        for plan in commune_plan(seed, code, math.ceil(quota / 2.5) + 50):
            area = generate_area(seed, plan.area_code, plan.village_code, name, plan.households,
                                 period, village_name=plan.village_name,
                                 max_persons=quota - made)
            made += len(area.members)
            yield area
            if made >= quota:
                break
