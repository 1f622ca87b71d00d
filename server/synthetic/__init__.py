"""Seeded, realistic synthetic registers: the Sổ A0 and a period of P0/CTV change slips.

The demo, the tests and every benchmark (up to a million persons, and later a
labelled duplicate set) are built on this package, so it is pure Python (no Flask,
no SQLAlchemy, no numpy), deterministic and fast, and it streams one collaborator
area at a time.

API
---
* :func:`local_units` — villages (thôn/bản/ấp/tổ dân phố) and collaborator areas of a
  commune, coded ``{commune}.{vv:02d}`` and ``{commune}.{vv:02d}.{a}``.
* :func:`commune_plan` — which areas a commune has and how many households each gets.
* :func:`generate_area` — one area: an :class:`AreaRegister` of plain dicts shaped
  like the forms in ``schemas/`` (households, members, woman_status, events,
  distributions). :meth:`AreaRegister.records` yields ``(form_id, record)``.
* :func:`generate_commune` — every area of a commune, one at a time.
* :func:`generate_persons` — about N persons over a list of communes (benchmarks).

Determinism: each area draws from its own ``random.Random`` seeded with a string
made of the seed and the area code (hashed by SHA-512 inside ``random``, so it is
independent of ``PYTHONHASHSEED`` and of what ran before). The same arguments give
byte-identical output, and an area generated alone equals the same area inside its
commune (``generate_area`` with the entry of :func:`commune_plan`). Ids are UUID4
strings drawn from that stream.

How the register and its events fit together
--------------------------------------------
The records follow the fold in :mod:`a0core.projection`, which the bulk loader and
sync ingestion both use:

* ``members`` holds each person as entered in the register, dated by
  ``registered_on``: everyone there at the start of the period (registered before
  it) and everyone who arrived during it (registered on the day of arrival, with
  ``residence_status`` equal to the ``move_in`` event's ``residence_type``).
  Members recorded ``absent`` (working away) may come back: their ``move_in`` event
  is dated after their older registration.
* Children born in the period are **not** in ``members``: the ``birth`` event
  (``member_id`` = mother, ``child_id``) creates them, as
  :func:`a0core.projection.child_from_birth` does. Their own events (newborn
  screening, a BHYT card via ``change_info``, infant death) come strictly later.
* A death or a move out is a person's last event; nothing about them follows.
  When a whole household moves out, its newborns go with it.
* ``woman_status`` is the status of a married woman 15–49 at ``recorded_on`` (a
  recent visit before the period, or the day she married or arrived): current
  method, ``method_start`` (absent when the method is ``none``), living children,
  husband. Method events then follow strictly after it and chain: a
  ``method_stop`` or ``method_switch`` names the method in use, a
  ``method_start`` follows ``none``; a method is stopped ("want_child") before a
  conception; pregnancies are announced (``pregnancy`` / ``pregnant`` with an
  expected date), may get a prenatal screening, and end in a birth or a
  ``pregnancy`` event with outcome miscarriage/abortion/stillbirth.
* Marriages: one ``marriage`` event per couple, on the spouse who lives in the
  area. A wife (or husband) who joins the household is a new member registered on
  arrival as already married, and ``spouse_id`` points at her; a daughter who
  marries out has ``marriage`` then ``move_out``.
* Divorces: one ``divorce`` event on the spouse who stays (``spouse_id`` = the other),
  and the other spouse moves out within 30 days. So counting events counts
  couples, and no resident stays "married" to someone who left.
* Distributions: monthly pills (cycles; 1 or 3 at a time) and condoms (pieces) to
  women using that method on that day, mostly from collaborators (some women buy
  their own), and the odd emergency pill.
* Known gap (not expressible with the current events): when a spouse dies, the
  survivor's marital status is not changed to "widowed"; the generator simply
  stops the widow's contraceptive story at the death.

Realism: sources and assumptions
--------------------------------
Figures are rounded national values, used as targets; the tests assert them with
tolerances on samples of about 20,000 persons.

* Age and sex: the 2024 population pyramid (GSO, UN WPP 2024): ≈ 23 % under 15,
  ≈ 9 % aged 65+, more women than men among the old. Households are built from
  types (nuclear, three generations, elderly couple, elderly alone, single adult,
  single parent, young couple) weighted to give a mean size ≈ 3.5 (2019 census:
  3.5) with sizes 1–9, grandparents raising grandchildren while the parents work
  away (recorded ``absent``), heads mostly men (women in matrilineal groups).
* Fertility: married women's birth hazard by age band and parity, calibrated to a
  crude birth rate ≈ 15 ‰ (GSO 2023: 15.1 ‰) with third-or-higher births ≈ 15 %;
  higher for groups with high fertility in MICS 2021 (Mông, Dao, Central Highland
  groups). Sex ratio at birth ≈ 1.11 (2019 census 111.5), higher for a third
  birth in a family without a son. About 15 % of pregnancies end in miscarriage or
  abortion. Place of birth mostly hospital (MICS 2021: ≈ 95 % in facilities,
  lower in remote areas), birth weight ≈ 3.1 kg.
* Mortality: a life-table shaped schedule (infant ≈ 11 ‰, men ≈ 1.7 × women)
  scaled to a crude death rate ≈ 6.5 ‰ (GSO 2023: 6.2–6.5 ‰).
* Contraception: modern-method prevalence among married women 15–49 ≈ 67 %, with
  IUD, pill and condom the most used (MICS 2021 and the population programme's
  reports: CPR ≈ 75 %, modern ≈ 65 %); traditional methods ≈ 10 %. Switching,
  stopping and taking up a method follow annual hazards of a few percent.
* Migration: young adults move out for work (industrial provinces, abroad: Japan,
  Korea, Taiwan), brides join their husband's household, some households move
  in (a third of them as temporary residents), a few move out entirely.
* Marriage and divorce: first marriage mostly at 20–29 for men and 18–29 for women
  (mean ages ≈ 27 and 23), crude marriage rate ≈ 7 ‰; divorces ≈ 0.5 ‰.
* Names: see :mod:`server.synthetic.names` (surname frequencies, middle names by
  cohort, minority naming styles). Children take the father's family name, the
  mother's clan name in matrilineal groups.
* Ethnicity: the 54 groups as lowercase ASCII codes of their official names
  (``kinh``, ``tay``, ``thai``, ``mong``, ``e_de``, ``bru_van_kieu``…). The commune
  code gives the (old) province, and the province's 2019 census composition gives
  the mix, concentrated: a province with 30 % Khmer has mostly-Khmer communes and
  almost-all-Kinh ones. Nationally Kinh ≈ 85 %.
* Education by age cohort (2019 census attainment), BHYT coverage ≈ 90 % (free
  cards for children under 6 and in poor and minority areas), year-only birth
  dates for ≈ 15 % of people born before 1960.
* BHYT numbers: 10 digits, unique by construction: an area owns a slot of 1,020
  serials derived from its code (commune × village × area), mapped through a
  bijective scramble so they look random. An area that outgrows its slot leaves
  the rest without a number; area codes not shaped ``ccccc.vv.a`` are hashed to a
  slot and are only unique with high probability.
"""

from server.synthetic.generator import (
    AreaRegister,
    bhyt_base,
    generate_area,
    generate_commune,
    generate_persons,
    scramble_bhyt,
)
from server.synthetic.units import AreaPlan, LocalUnit, areas_of, commune_plan, local_units

__all__ = [
    "AreaPlan",
    "AreaRegister",
    "LocalUnit",
    "areas_of",
    "bhyt_base",
    "commune_plan",
    "generate_area",
    "generate_commune",
    "generate_persons",
    "local_units",
    "scramble_bhyt",
]
