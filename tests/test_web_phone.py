"""The demo at a phone's 390×844 in real headless Chromium: what a finger needs is
reachable and big enough, and chart text reads.

- the units page: every action button lies inside the screen, no sideways scrolling
  (the table turns into one card a row at phone width);
- every page, as the commune officer and the administrator: nothing scrolls sideways
  but a report grid inside a labelled region a keyboard can focus, whose row headings
  stay in view once it is scrolled to its end (lists of records are cards);
- tap targets (WCAG 2.5.5): the site's name, the menu's links and its button, text
  boxes, lists and a form's opening heading at least 44 px high, check boxes and radio
  buttons at least 24 px with a label at least 44 px high;
- the roll-up charts: every label drawn at 11 px or more once the SVG is scaled down
  to the phone (its font size times the drawing's scale), and inside its chart.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import make_app
from tests.support.pages import DEMO_COMMUNE, LOGGED_OUT, demo_values, pages
from tests.support.web import served_in_thread
from tests.test_web_e2e import ARGS, CHROMIUM, _need_chromium

PHONE = {"width": 390, "height": 844}

# boxes of what is given, rounded to the pixel, as [what, left, top, right, bottom]
BOXES = """sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length)
  .map(e => { const r = e.getBoundingClientRect();
              return [e.tagName + ' ' + (e.innerText || e.name || e.value || '').trim()
                        .slice(0, 30), r.left, r.top, r.right, r.bottom]; })"""

# check boxes and radios (not the menu's hidden toggle), each with its label's height
CHOICES = """() => [...document.querySelectorAll(
    'main input[type=checkbox], main input[type=radio]')].filter(e => e.getClientRects().length)
  .map(e => { const r = e.getBoundingClientRect(), l = e.closest('label');
              return {name: e.name, width: r.width, height: r.height,
                      label: l ? l.getBoundingClientRect().height : 0}; })"""

# what scrolls sideways, and is not a labelled, focusable region (macros.html ``grid``)
# whose row headings stay in view when it is scrolled to its end; the page itself
SIDEWAYS = """() => {
  const out = [], name = e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className;
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) out.push('the page: ' + page.scrollWidth);
  for (const e of document.querySelectorAll('main *')) {
    if (e.scrollWidth <= e.clientWidth + 1 || !/auto|scroll/.test(getComputedStyle(e).overflowX)
        || !(e.tagName === 'TABLE' || e.querySelector('table'))) continue;
    if (!e.matches('.scroll[role=region][tabindex="0"]:is([aria-label],[aria-labelledby])')) {
      out.push(name(e) + ' scrolls outside a labelled region');
      continue;
    }
    const heads = [...e.querySelectorAll('th[scope=row], th.row-head')];
    e.scrollLeft = e.scrollWidth;
    const left = e.getBoundingClientRect().left;
    const away = heads.filter(h => h.getBoundingClientRect().left < left - 1);
    e.scrollLeft = 0;
    if (!heads.length || away.length) out.push(name(e) + ': its row headings scroll away');
  }
  return out;
}"""

# each chart text as drawn: its font size in the drawing times the drawing's scale
CHART_TEXT = """() => [...document.querySelectorAll('svg.chart text')].map(t => {
  const svg = t.ownerSVGElement.getBoundingClientRect(), r = t.getBoundingClientRect();
  return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) *
                                   t.getScreenCTM().a,
          inside: r.left >= svg.left - 0.5 && r.right <= svg.right + 0.5}; })"""


@pytest.fixture(scope="module")
def phone(demo_built: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Logged-in tabs at 390×844 on a served copy of the demo: the commune officer's
    and the administrator's."""
    _need_chromium()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("phone")
    shutil.copy(demo_built["database"], folder / "demo.sqlite")
    app = make_app(f"sqlite:///{folder / 'demo.sqlite'}", folder / "instance",
                   A0SYNC_SECURE_COOKIES=False)
    with app.app_context(), served_in_thread(app) as url, sync_playwright() as playwright:
        values = demo_values()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            tabs = {}
            for user in ("demo", "demo.admin"):
                tab = tabs[user] = browser.new_context(viewport=PHONE).new_page()
                tab.set_default_timeout(30_000)
                tab.goto(f"{url}/lang/vi")
                tab.goto(f"{url}/login")
                tab.fill("input[name=username]", user)
                tab.fill("input[name=password]", demo_built["accounts"][user])
                with tab.expect_navigation():
                    tab.click("main button[type=submit]")
                assert "/login" not in tab.url, tab.inner_text("main")
            yield {"tab": tabs["demo"], "admin": tabs["demo.admin"], "url": url,
                   "values": values, "pages": pages(app, values)}
        finally:
            browser.close()


def test_units_actions_within_a_phone_screen(phone: dict) -> None:
    tab = phone["tab"]
    tab.goto(f"{phone['url']}/dashboard/units?commune={DEMO_COMMUNE}")
    buttons = tab.evaluate(BOXES, "#units button")
    names = {b[0].split(" ", 1)[1] for b in buttons}
    assert {"Đổi tên", "Giao địa bàn", "Chuyển sang thôn này", "Ngừng"} <= names, names
    outside = [b for b in buttons if b[1] < 0 or b[3] > PHONE["width"]]
    assert not outside, outside
    fields = tab.evaluate(BOXES, "#units input:not([type=hidden]), #units select")
    assert not [f for f in fields if f[3] > PHONE["width"]]
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert tab.evaluate("document.querySelector('.scroll').scrollWidth "
                        "<= document.querySelector('.scroll').clientWidth")


@pytest.mark.parametrize("path, table", [
    ("/dashboard/duplicates", "#duplicates"),  # the queue of pairs
    ("/dashboard/", "#sync-status"),  # the commune's areas, devices and P0 slips
    ("/dashboard/devices/{device_id}", "#batches")])  # a device's batches
def test_wide_lists_read_as_cards_on_a_phone(phone: dict, path: str, table: str) -> None:
    """Every cell inside the screen, the last column's too, nothing to scroll sideways:
    one card a row, each cell named by its column."""
    tab = phone["tab"]
    tab.goto(phone["url"] + path.format(**phone["values"]))
    cells = tab.evaluate(BOXES, f"{table} tbody td")
    assert len(cells) > 5 and not [c for c in cells if c[3] > PHONE["width"]], cells
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_nothing_scrolls_sideways_but_labelled_grids(phone: dict) -> None:
    """Every page, as the officer (the administrator's pages as the administrator), and
    the administrator's widest: the country's report and a province's former districts."""
    url, walked = phone["url"], 0
    paths = [(p.path, "tab") for p in phone["pages"] if p.endpoint not in LOGGED_OUT]
    paths += [("/dashboard/rollups/VN/report", "admin"), ("/dashboard/rollups/VN", "admin"),
              ("/dashboard/rollups/former-districts?province=01", "admin")]
    problems = []
    for path, who in paths:
        tab = phone[who]
        response = tab.goto(url + path)
        if response.status == 403:
            tab = phone["admin"]
            response = tab.goto(url + path)
        assert response.status == 200, (path, response.status)
        problems += [f"{path}: {p}" for p in tab.evaluate(SIDEWAYS)]
        walked += tab.evaluate("document.querySelectorAll('.scroll[role=region]').length")
    assert not problems, "\n".join(problems)
    assert walked >= 10  # the grids were there: indicators, stock, report sections


def test_tap_targets_on_a_phone(phone: dict) -> None:
    tab, url, values = phone["tab"], phone["url"], phone["values"]
    tab.goto(f"{url}/dashboard/units?commune={DEMO_COMMUNE}")
    tab.click("label.menu-button")
    small = [b for b in tab.evaluate(BOXES, "a.brand, nav#menu a, label.menu-button")
             if b[4] - b[2] < 44 or b[3] - b[1] < 44]
    assert not small, small
    seen = fields = 0
    for path in (f"/dashboard/units?commune={DEMO_COMMUNE}", "/dashboard/",
                 "/dashboard/conflicts", f"/dashboard/duplicates/{values['candidate_id']}",
                 f"/dashboard/stock/{DEMO_COMMUNE}"):
        tab.goto(url + path)
        choices = tab.evaluate(CHOICES)
        seen += len(choices)
        small = [c for c in choices if min(c["width"], c["height"]) < 24 or c["label"] < 44]
        assert not small, (path, small)
        boxes = tab.evaluate(BOXES, "main input:not([type=hidden]):not([type=checkbox])"
                                    ":not([type=radio]), main select, main summary")
        fields += len(boxes)
        small = [b for b in boxes if b[4] - b[2] < 44]
        assert not small, (path, small)
    assert seen >= 4  # the units page's two boxes, the status filter, the radios
    assert fields >= 20  # names, lists, the station's forms


def test_chart_text_reads_on_a_phone(phone: dict) -> None:
    tab = phone["tab"]
    tab.goto(f"{phone['url']}/dashboard/rollups/{DEMO_COMMUNE}")
    texts = tab.evaluate(CHART_TEXT)
    assert len(texts) > 10
    small = [t for t in texts if t["px"] < 11]
    assert not small, small[:5]
    cut = [t["text"] for t in texts if not t["inside"]]
    assert not cut, cut
    assert "Dụng cụ tử cung (vòng tránh thai)" in tab.text_content("#chart-methods")
