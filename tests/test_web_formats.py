"""How a page writes numbers, months, dates and times, in each language, checked
against values read from the demo's database and formatted here by hand (not through
``server.formats``): Vietnamese ``5.083``, ``76,9``, ``11/2026``, ``03/12/2026``,
``03/12/2026 23:28``; English ``5,083``, ``76.9``, ``Nov 2026``, ``3 Dec 2026``,
``3 Dec 2026, 23:28``; every time in Vietnam's (UTC+7), and the page says so."""

from __future__ import annotations

import datetime as dt
import re

from babel.dates import format_date, format_datetime
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from a0core import p0
from server import formats
from server.extensions import db
from server.models.rollups import RollupCell
from server.models.sync import SyncBatch
from server.reporting import deadline_day
from server.web.queries.sync_status import overdue_month
from tests.support.pages import DEMO_COMMUNE
from tests.support.web import Browser

TAGS = re.compile(r"<[^>]+>")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
ISO_MONTH = re.compile(r"\b\d{4}-\d{2}\b")


def _number(value: float, lang: str) -> str:
    """1634 → 1.634 / 1,634; 76.94 → 76,9 / 76.9 (one decimal, none when whole)."""
    text = f"{value:,.1f}".removesuffix(".0")
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def _month(month: str, lang: str) -> str:
    first = dt.date.fromisoformat(month + "-01")
    return f"{first:%m/%Y}" if lang == "vi" else f"{first:%b %Y}"


def _day(day: dt.date, lang: str) -> str:
    return f"{day:%d/%m/%Y}" if lang == "vi" else f"{day.day} {day:%b %Y}"


def _time(moment: dt.datetime, lang: str) -> str:
    local = moment.replace(tzinfo=None) + dt.timedelta(hours=7)  # stored in UTC
    return f"{local:%d/%m/%Y %H:%M}" if lang == "vi" else f"{local.day} {local:%b %Y, %H:%M}"


def _text(html: str) -> str:
    main = html.split("<main", 1)[1].split(">", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", TAGS.sub(" ", main))


def _row(html: str, row_id: str) -> list[str]:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert found, row_id
    return re.findall(r'<td class="num"[^>]*>([^<]*)</td>', found.group(1))


def test_numbers_dates_and_times_in_each_language(demo_built, demo_app) -> None:
    session = db.session
    cells = dict(session.execute(select(RollupCell.month, RollupCell.values).where(
        RollupCell.unit_code == DEMO_COMMUNE).order_by(RollupCell.month)).all())
    month = max(m for m, v in cells.items() if v.get("population", 0) >= 1000)
    population = cells[month]["population"]
    rate_name = next(name for name in ("completeness", "cpr", "mcpr", "srb")
                     if not float(cells[month].get(name, 0)).is_integer())
    rate = cells[month][rate_name]
    batch = session.scalars(select(SyncBatch).where(SyncBatch.carrier == "file")).one()
    overdue = overdue_month(p0.vn_day(), deadline_day())
    due = p0.deadline(overdue, deadline_day())

    browser = Browser(demo_app)
    assert browser.login("demo", demo_built["accounts"]["demo"]).status_code == 302
    seen = {}
    for lang in ("vi", "en"):
        browser.get(f"/lang/{lang}")
        rollups = browser.get(f"/dashboard/rollups/{DEMO_COMMUNE}?month={month}")
        rollups = rollups.get_data(as_text=True)
        assert f'<html lang="{lang}">' in rollups
        # numbers: a population over a thousand, a rate with its decimal
        assert _number(population, lang) in _row(rollups, "ind-population"), lang
        assert _number(round(rate, 1), lang) in _row(rollups, f"ind-{rate_name}"), lang
        # months on the table's head and in the words of the page
        assert f"<th class=\"current\">{_month(month, lang)}</th>" in rollups, lang
        assert not ISO_MONTH.search(_text(rollups)), ISO_MONTH.search(_text(rollups))
        # chart axes: whole month labels (T11/26 / Nov 26)
        label = (f"T{int(month[5:])}/{month[2:4]}" if lang == "vi"
                 else f"{dt.date.fromisoformat(month + '-01'):%b %y}")
        assert f">{label}</text>" in rollups, (lang, label)

        # a date: the P0 slip's deadline on the sync status page
        status = browser.get("/dashboard/").get_data(as_text=True)
        assert _day(due, lang) in _text(status), (lang, _day(due, lang))
        # a time: when the carried batch was received, in Vietnam's time, stated
        device = browser.get(f"/dashboard/devices/{batch.device_id}").get_data(as_text=True)
        assert _time(batch.received_at, lang) in _text(device), (lang, _time(batch.received_at,
                                                                               lang))
        assert not ISO_TIME.search(_text(device)), ISO_TIME.search(_text(device))
        zone = {"vi": "giờ Việt Nam, UTC+7", "en": "Vietnam time, UTC+7"}[lang]
        assert zone in device.split('id="zone-note"')[1], lang
        seen[lang] = _number(population, lang)
    assert seen["vi"] != seen["en"]  # population >= 1000: the separators differ


@given(st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2100, 1, 1),
                    timezones=st.sampled_from([dt.UTC, None])), st.sampled_from(["vi", "en"]))
def test_dates_and_times_read_as_babel_writes_them(moment: dt.datetime, lang: str) -> None:
    """``day``, ``month`` and ``when`` write their patterns directly (Babel costs a millisecond a
    call); they must read exactly as Babel writes the same patterns, in Vietnam's time."""
    local = formats.to_local(moment)
    assert formats.when(moment, lang) == format_datetime(
        local, formats._TIME[lang], tzinfo=formats.ZONE, locale=lang)
    assert formats.day(moment.date(), lang) == format_date(
        moment.date(), formats._DAY[lang], locale=lang)
    assert formats.month(moment.date(), lang) == formats.month(f"{moment:%Y-%m}", lang) \
        == format_date(moment.date(), formats._MONTH[lang], locale=lang)


def test_a_rate_always_has_its_decimal() -> None:
    """A column of rates reads alike: 68,0 beside 68,4, not 68; a real 0 reads 0,0 and
    a rate with nothing to divide by (None) "x", not "—" (not collected)."""
    assert [formats.rate(v, "vi") for v in (68.0, 68, 68.44, 1234.56, 0, 0.0)] \
        == ["68,0", "68,0", "68,4", "1.234,6", "0,0", "0,0"]
    assert [formats.rate(v, "en") for v in (68.0, 1234.56)] == ["68.0", "1,234.6"]
    assert formats.rate(None, "vi") == formats.rate("", "en") == "x" != formats.NOTHING
    assert formats.num(0, "vi") == "0"  # a count of nothing is a number, not "—"
