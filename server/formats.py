"""How numbers, dates, months and times read to a person: one place, for the dashboard,
the report forms and the command line (Babel, in Vietnam's time zone).

Vietnamese (the default): ``5.083``, ``76,9`` (a rate always with its decimal:
``68,0``), ``03/12/2026``, ``11/2026``,
``03/12/2026 23:28``, chart months ``T11/26``. English: ``5,083``, ``76.9``,
``3 Dec 2026``, ``Nov 2026``, ``3 Dec 2026, 23:28``, ``Nov 26``. Every time is shown
in ``Asia/Ho_Chi_Minh`` (stored times are UTC; SQLite hands them back naive) and a
page or a command says so once (:func:`zone_note`).

Each function takes the language; ``lang=None`` means the page's language inside a
request (Flask-Babel's locale) and Vietnamese anywhere else. Templates use them as
filters (``num``, ``rate``, ``day``, ``month``, ``when``; registered by
``server.web.dashboard.init_app``); new pages need nothing more.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from babel.dates import format_date, get_month_names, get_timezone
from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol
from flask import has_request_context, request
from flask_babel import get_locale

ZONE_NAME = "Asia/Ho_Chi_Minh"
ZONE = get_timezone(ZONE_NAME)
LANGS = ("vi", "en")
NOTHING = "—"
# a rate with nothing to divide by (no married women, no girls born, no area expected):
# "x", as statistical tables mark a cell that cannot hold a figure ("—" is taken: not
# collected); never 0,0, which would state a rate of nothing
NOT_COMPUTABLE = "x"

_DAY = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
_MONTH = {"vi": "MM/yyyy", "en": "MMM yyyy"}
_TIME = {"vi": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
_REQUEST_KEY = "a0sync.lang"
_ZONE_NOTE = {"vi": "giờ Việt Nam, UTC+7", "en": "Vietnam time, UTC+7"}


def language(lang: str | None = None) -> str:
    """``lang`` if given, else the request's language, else Vietnamese."""
    if lang in LANGS:
        return lang  # type: ignore[return-value]
    if not has_request_context():
        return "vi"
    environ = request.environ  # once per request: a page formats thousands of numbers
    if _REQUEST_KEY not in environ:
        environ[_REQUEST_KEY] = "en" if str(get_locale()) == "en" else "vi"
    return environ[_REQUEST_KEY]


def num(value: Any, lang: str | None = None, digits: int = 1) -> str:
    """A count or a rate: ``5.083``, ``76,9`` (at most ``digits`` decimals; "—" for
    nothing). Text that is not a number is shown as it is."""
    if type(value) is int:  # most cells of a report: the shortest way
        return f"{value:,}".translate(_symbols(language(lang)))
    if value is None or value == "" or isinstance(value, bool):
        return NOTHING
    if isinstance(value, str):
        try:
            value = float(value) if "." in value else int(value)
        except ValueError:
            return value
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:,.0f}"
    else:
        text = f"{int(value):,}"
    # Python groups and points the English way; the language's own symbols from Babel's
    # locale data (a report page shows thousands of numbers: format_decimal costs 40 µs)
    return text.translate(_symbols(language(lang)))


def rate(value: Any, lang: str | None = None, digits: int = 1) -> str:
    """A rate or a ratio, always with ``digits`` decimals so that a column reads alike:
    ``68,0``, ``68,4`` (``68.0`` in English); :data:`NOT_COMPUTABLE` when it has no
    value (nothing to divide by), while a real 0 reads ``0,0``."""
    if value is None or value == "" or isinstance(value, bool):
        return NOT_COMPUTABLE
    return f"{float(value):,.{digits}f}".translate(_symbols(language(lang)))


@cache
def _symbols(lang: str) -> dict[int, str]:
    return str.maketrans({",": get_group_symbol(locale=lang),
                          ".": get_decimal_symbol(locale=lang)})


def fixed(value: Any, lang: str | None = None, digits: int = 2) -> str:
    """A number with exactly ``digits`` decimals (a score: ``0,87``)."""
    if value is None:
        return NOTHING
    return format_decimal(float(value), format="0." + "0" * digits, locale=language(lang))


def _as_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return to_local(value).date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return None


def day(value: Any, lang: str | None = None) -> str:
    """A date: ``03/12/2026`` / ``3 Dec 2026``; a year alone (a date of birth known
    only by its year) stays as it is."""
    found = _as_date(value)
    if found is None:
        return str(value) if value not in (None, "") else NOTHING
    return _date_text(found, language(lang))


def month(value: Any, lang: str | None = None) -> str:
    """A month (``2026-11`` or a date): ``11/2026`` / ``Nov 2026``."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, str) and len(value) == 7:
        value = dt.date(int(value[:4]), int(value[5:7]), 1)
    found = _as_date(value)
    if found is None:
        return str(value)
    if language(lang) == "vi":
        return f"{found.month:02d}/{found.year:04d}"
    return f"{_month_names(language(lang))[found.month]} {found.year:04d}"


def month_short(value: str, lang: str | None = None) -> str:
    """A month on a chart axis, whole but short: ``T11/26`` / ``Nov 26``."""
    year, number = int(value[:4]), int(value[5:7])
    if language(lang) == "vi":
        return f"T{number}/{year % 100:02d}"
    return format_date(dt.date(year, number, 1), "MMM yy", locale="en")


def to_local(value: dt.datetime) -> dt.datetime:
    """A stored time (UTC; naive from SQLite) in Vietnam's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZONE)


def when(value: Any, lang: str | None = None) -> str:
    """A moment in Vietnam's time: ``03/12/2026 23:28`` / ``3 Dec 2026, 23:28``."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = to_local(value)
    if language(lang) == "vi":
        return f"{_date_text(local, 'vi')} {local.hour:02d}:{local.minute:02d}"
    return f"{_date_text(local, 'en')}, {local.hour:02d}:{local.minute:02d}"


def _date_text(value: dt.date, lang: str) -> str:
    """:data:`_DAY`'s pattern written directly (``when`` and ``month`` write theirs
    too): Babel's ``format_date`` and ``format_datetime`` cost about a millisecond
    each, and a page lists dozens. A test holds all three to Babel's output."""
    if lang == "vi":
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    return f"{value.day} {_month_names(lang)[value.month]} {value.year:04d}"


@cache
def _month_names(lang: str) -> dict[int, str]:
    """Abbreviated month names as Babel's ``MMM`` writes them."""
    return dict(get_month_names("abbreviated", locale=lang))


def zone_note(lang: str | None = None) -> str:
    """What every shown time is in: ``giờ Việt Nam, UTC+7``."""
    return _ZONE_NOTE[language(lang)]


def stated(value: Any, lang: str | None = None) -> str:
    """A moment with its zone said, where no page says it (the command line):
    ``03/12/2026 23:28 (giờ Việt Nam, UTC+7)``."""
    return f"{when(value, lang)} ({zone_note(lang)})"
