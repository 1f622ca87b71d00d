"""Villages and collaborator areas of a commune, and how households are split over them.

Local units are not in the official lists, so the generator invents them: names
follow the region's usage (thôn/xóm in the Red River delta and the centre, bản in
the northern mountains, buôn/plei/làng in the Central Highlands, ấp in the south,
tổ dân phố/khu phố in towns). Every choice is a pure function of the seed and the
unit's own code, so a single area can be regenerated without its neighbours.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from server.synthetic import names as nm
from server.synthetic import tables as tb

LEVEL_VILLAGE = "village"
LEVEL_AREA = "area"


@dataclass(frozen=True)
class LocalUnit:
    """A village (thôn/bản/ấp/tổ dân phố) or a collaborator area (địa bàn) under a commune."""

    code: str
    name: str
    level: str  # "village" | "area"
    parent_code: str


@dataclass(frozen=True)
class AreaPlan:
    """One area of a commune with the number of households it gets."""

    area_code: str
    village_code: str
    village_name: str
    households: int


def _rng(*parts: object) -> random.Random:
    # string seeds are hashed with SHA-512 by random.Random: stable across runs and
    # platforms, and independent of PYTHONHASHSEED
    return random.Random("a0sync/synthetic/" + ":".join(str(p) for p in parts))


def _village_names(commune_code: str, n: int, seed: int) -> list[str]:
    rng = _rng("villages", seed, commune_code)
    province = tb.province_of(commune_code)
    region = tb.region_of(province)
    urban_p = 0.5 if province in tb.CITY_PROVINCES else 0.1
    if rng.random() < urban_p:
        word = "Khu phố" if region == "south" else "Tổ dân phố"
        return [f"{word} {v}" for v in range(1, n + 1)]
    pools = {k: list(v) for k, v in (("thon", nm.THON_NAMES), ("ban", nm.BAN_NAMES),
                                     ("buon", nm.BUON_NAMES), ("plei", nm.PLEI_NAMES),
                                     ("ap", nm.AP_NAMES))}
    for pool in pools.values():
        rng.shuffle(pool)

    def take(kind: str) -> str | None:
        return pools[kind].pop() if pools[kind] else None

    out: list[str] = []
    for v in range(1, n + 1):
        u = rng.random()
        name: str | None
        if province in tb.BAN_PROVINCES:
            name = f"Bản {b}" if u < 0.55 and (b := take("ban")) else (
                f"Thôn {t}" if u < 0.85 and (t := take("thon")) else f"Thôn {v}")
        elif province in tb.BUON_PROVINCES:
            name = (take("buon") if u < 0.5 else None) or f"Thôn {v}"
        elif province in tb.PLEI_PROVINCES:
            name = (take("plei") if u < 0.5 else None) or f"Thôn {v}"
        elif region == "south":
            name = f"Ấp {a}" if u < 0.6 and (a := take("ap")) else f"Ấp {v}"
        else:
            if u < 0.55 and (t := take("thon")):
                name = f"Thôn {t}"
            elif u < 0.7 and (t := take("thon")):
                name = f"Xóm {t}"
            elif u < 0.9:
                name = f"Thôn {v}"
            else:
                name = f"Tổ dân phố {v}"
        out.append(name)
    # a numbered name can collide with another village's number in rare mixes
    seen: set[str] = set()
    for i, name in enumerate(out):
        if name in seen:
            out[i] = f"{name} ({i + 1})"
        seen.add(out[i])
    return out


def areas_of(village: LocalUnit, seed: int, min_areas: int = 1) -> list[LocalUnit]:
    """The collaborator areas of a village: one or two, at least ``min_areas`` (≤ 3).

    A pure function of the village code, the seed and ``min_areas``.
    """
    n = 2 if _rng("areas", seed, village.code).random() < 0.35 else 1
    n = min(3, max(n, min_areas))
    return [LocalUnit(f"{village.code}.{a}", f"Địa bàn {a} – {village.name}", LEVEL_AREA,
                      village.code) for a in range(1, n + 1)]


def local_units(commune_code: str, n_villages: int, seed: int = 0,
                min_areas: int = 1) -> list[LocalUnit]:
    """Villages ``{commune}.{vv:02d}`` and their areas ``{commune}.{vv:02d}.{a}``.

    Villages come first, then areas, so a loader can insert parents before children.
    ``min_areas`` (1–3) forces more areas per village for very large communes.
    """
    if not 1 <= n_villages <= 99:
        raise ValueError("n_villages must be between 1 and 99 (two-digit village codes)")
    villages = [LocalUnit(f"{commune_code}.{v:02d}", name, LEVEL_VILLAGE, commune_code)
                for v, name in enumerate(_village_names(commune_code, n_villages, seed), 1)]
    return villages + [a for v in villages for a in areas_of(v, seed, min_areas)]


def commune_plan(seed: int, commune_code: str, households: int,
                 villages: Sequence[LocalUnit] | None = None) -> list[AreaPlan]:
    """Which areas a commune has and how many households each gets.

    ``villages``: units to use (villages, optionally with their areas); a village
    passed without areas gets the areas :func:`local_units` would give it. By
    default about one village per 250 households, and in communes too big for 99
    villages up to three areas per village, so that an area keeps a few hundred
    households. Feed a plan's entries to :func:`server.synthetic.generate_area` to
    regenerate any single area.
    """
    if households < 0:
        raise ValueError("households must be >= 0")
    if villages is None:
        n = min(99, max(1, round(households / 250)))
        per_village = households / n
        min_areas = 1 if per_village <= 400 else 2 if per_village <= 650 else 3
        villages = local_units(commune_code, n, seed, min_areas)
    units = list(villages)
    by_code = {u.code: u for u in units}
    areas = [u for u in units if u.level == LEVEL_AREA]
    covered = {a.parent_code for a in areas}
    for v in units:
        if v.level == LEVEL_VILLAGE and v.code not in covered:
            areas.extend(areas_of(v, seed))
    if not areas:
        raise ValueError("no villages or areas to place households in")
    order = {u.code: i for i, u in enumerate(units)}
    areas.sort(key=lambda a: (order.get(a.parent_code, len(order)), a.code))
    rng = _rng("split", seed, commune_code)
    weights = [0.75 + 0.5 * rng.random() for _ in areas]
    total = sum(weights)
    exact = [households * w / total for w in weights]
    counts = [int(x) for x in exact]
    short = households - sum(counts)
    for i in sorted(range(len(areas)), key=lambda i: counts[i] - exact[i])[:short]:
        counts[i] += 1
    plans = []
    for area, count in zip(areas, counts, strict=True):
        village = by_code.get(area.parent_code)
        name = village.name if village else area.name
        plans.append(AreaPlan(area.code, area.parent_code, name, count))
    return plans
