"""Dates as a collaborator reads and writes them: dd/mm/yyyy (and a year alone).

Records keep ISO dates (``YYYY-MM-DD``, or ``YYYY`` for a birth year), which the
server validates; people see and type the Vietnamese way. Typing is forgiving
(``3/12/2026``, ``03-12-2026``, ``03.12.2026``, and ISO pasted from elsewhere);
anything else is refused with the expected format and an example, never guessed
(``03/12/26`` could be 1926 or 2026).
"""

from __future__ import annotations

import datetime as dt
import re

from a0core.vntime import today_vn

_DMY = re.compile(r"^\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")
DATE_TYPES = ("date", "partial_date")


def show(value: object) -> str:
    """An ISO date, year or month as a person reads it: 03/12/2026, 1990, 12/2026."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        return f"{value[8:10]}/{value[5:7]}/{value[:4]}"
    if len(value) == 7 and value[4] == "-":
        return f"{value[5:7]}/{value[:4]}"
    return value


def parse(text: str, year_alone: bool = False) -> str | None:
    """What was typed as an ISO date (or year, where ``year_alone``); None if unreadable.

    A day that does not exist (31/02/2026) is unreadable too.
    """
    found = _DMY.match(text)
    if found:
        day, month, year = (int(g) for g in found.groups())
    elif (found := _ISO.match(text)):
        year, month, day = (int(g) for g in found.groups())
    elif year_alone and (found := _YEAR.match(text)):
        return found.group(1)
    else:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def today() -> str:
    """Today in Vietnam (ISO), whatever the phone's time zone."""
    return today_vn().isoformat()


def example() -> str:
    """Today, shown: the example a refusal gives."""
    return show(today())
