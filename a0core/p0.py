"""The monthly P0 change slip (phiếu thu tin P0/CTV): its sections and its calendar.

Shared by the app and the server, so both count a month the same way.

*Sections.* Every form of the change slip names its section (``"section":
"P0.births"``). The slip form (``p0_report``) has one integer field per section,
named after it (``births``): how many entries of that section are dated in the
month — events by ``event_date``, distributions by ``distributed_on`` — not
counting voided ones. All zero is a nil report. A new P0 form needs a new
version of the slip form with a field for its section (a test checks this).

*Calendar* (Thông tư 01/2022/TT-BYT): the slip for month M is drawn up at the
start of M+1 and is due by day ``deadline_day`` of M+1 (default 5,
``A0SYNC_REPORT_DEADLINE_DAY`` on the server). Days are Vietnam days (UTC+7, no
daylight saving). A month can be closed from its last day on: the slip form's
dates allow one day of slack for a device whose clock is off, and so does this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from a0core.schemas import FormDef, Registry, registry
from a0core.vntime import FUTURE_SLACK, VN_TZ

SLIP_FORM = "p0_report"
SECTION_PREFIX = "P0."
DATE_FIELDS = {"event": "event_date", "distribution": "distributed_on"}
DEFAULT_DEADLINE_DAY = 5


# ---------------------------------------------------------------- sections

_SECTIONS: dict[int, tuple[Registry, dict[str, str]]] = {}


def _sections(reg: Registry) -> dict[str, str]:
    """form id → the slip field that counts it (every version of every P0 form)."""
    cached = _SECTIONS.get(id(reg))
    if cached is None or cached[0] is not reg:
        out: dict[str, str] = {}
        for form in reg.forms.values():
            section = str(form.raw.get("section", ""))
            if section.startswith(SECTION_PREFIX) and form.kind in DATE_FIELDS:
                out[form.id] = section[len(SECTION_PREFIX):]
        cached = _SECTIONS[id(reg)] = (reg, out)
    return cached[1]


def section_map(reg: Registry | None = None) -> dict[str, str]:
    """form id → the slip field (section) that counts its entries."""
    return _sections(reg or registry())


def section_of(form_id: str, reg: Registry | None = None) -> str | None:
    """The slip field that counts entries of ``form_id`` (None: not on the slip)."""
    return section_map(reg).get(form_id)


def slip_form(reg: Registry | None = None) -> FormDef:
    form = (reg or registry()).form(SLIP_FORM)
    assert form is not None, "schemas/forms/p0_report is missing"
    return form


def section_fields(form: FormDef | None = None) -> tuple[str, ...]:
    """The count fields of a slip form version, in its order (the slip's sections)."""
    form = form or slip_form()
    return tuple(f.name for f in form.fields if f.type == "integer")


def entry_date(record: Mapping[str, Any]) -> str:
    """The date an entry (an event or a distribution) is counted by: its month is the
    slip it belongs to."""
    return str(record.get("event_date") or record.get("distributed_on") or "")


def section_labels(lang: str = "vi") -> dict[str, str]:
    """Each section's name on the slip (the slip form's labels)."""
    return {f.name: f.label["vi" if lang == "vi" else "en"] for f in slip_form().fields
            if f.type == "integer"}


def count_entries(entries: Iterable[tuple[str, str]],
                  sections: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
    """``(form id, date)`` of the entries that are not voided → month → section →
    count. Every section of the slip is present (zero included) in every month that
    has an entry."""
    names = tuple(sections or section_fields())
    out: dict[str, dict[str, int]] = {}
    for form_id, date in entries:
        section = section_of(form_id)
        if section is None or not date:
            continue
        counts = out.setdefault(date[:7], dict.fromkeys(names, 0))
        counts[section] = counts.get(section, 0) + 1
    return out


def empty_counts(sections: Iterable[str] | None = None) -> dict[str, int]:
    return dict.fromkeys(sections or section_fields(), 0)


def differing(slip: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """Sections whose count on the slip is not what is held (a missing one counts 0)."""
    return sorted(name for name in set(slip) | set(held)
                  if int(slip.get(name) or 0) != int(held.get(name) or 0))


# ---------------------------------------------------------------- calendar

def vn_day(now: dt.datetime | None = None) -> dt.date:
    """Today in Vietnam (``now`` is an aware datetime; default: the clock)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(VN_TZ).date()


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def shift(month: str, by: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_day(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def last_day(month: str) -> dt.date:
    return first_day(shift(month, 1)) - dt.timedelta(days=1)


def month_over(month: str, today: dt.date) -> bool:
    """A slip for ``month`` may be closed (its last day has come, one day of slack)."""
    return today + FUTURE_SLACK > last_day(month)


def last_closed_month(today: dt.date) -> str:
    """The newest month that has ended: the one whose slip is due now."""
    return shift(month_of(today), -1)


def deadline(month: str, day: int = DEFAULT_DEADLINE_DAY) -> dt.date:
    """The last Vietnam day on which the slip for ``month`` is on time."""
    nxt = first_day(shift(month, 1))
    return nxt.replace(day=max(1, min(day, 28)))


def deadline_utc(month: str, day: int = DEFAULT_DEADLINE_DAY) -> dt.datetime:
    """The instant the slip for ``month`` becomes late (the deadline day's end, UTC)."""
    end = dt.datetime.combine(deadline(month, day) + dt.timedelta(days=1), dt.time(),
                              tzinfo=VN_TZ)
    return end.astimezone(dt.UTC)


def vietnamese_month(month: str) -> str:
    """``2026-11`` → ``11/2026``, as a person reads it."""
    return f"{month[5:7]}/{month[:4]}"
