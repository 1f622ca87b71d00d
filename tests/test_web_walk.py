"""Every page at a phone's 390 px and a laptop's 1366 px, in Vietnamese and English, in
real headless Chromium against a real server holding the demo (``a0sync demo``):
nothing is wider than the screen except inside a table that scrolls on its own, no
word is cut in two across lines (a squeezed column, a menu label), the menu folds
behind its button on the phone, and axe-core (run in the page) finds no serious or
critical accessibility violation. In English no Vietnamese is left but names marked
``lang="vi"`` (:data:`UNTRANSLATED`).

The pages come from the app's url_map (``tests/support/pages.py``), so pages added
later are walked too. One browser; one logged-in context per language and role,
reused for every page; the viewport is resized on the same page. Screenshots of
every page at both widths, and axe's full findings, go to ``test-artifacts/walk``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.support.pages import LOGGED_OUT, demo_values, pages
from tests.support.web import served_in_thread
from tests.test_web_e2e import ARGS, CHROMIUM, _need_chromium

WIDTHS = (390, 1366)
OUT = Path(__file__).resolve().parents[1] / "test-artifacts" / "walk"
SERIOUS = ("serious", "critical")

# how far a page reaches beyond the screen, tables that scroll inside themselves left out
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  return {page: document.documentElement.scrollWidth - width,
          width: width,
          culprits: [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1
                         && !e.closest('table.list, .scroll, pre'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' +
                                  Math.round(e.getBoundingClientRect().right))};
}"""

# words cut in two across lines (a squeezed table column, a menu label): a word is a
# run of letters and digits between spaces, hyphens and slashes, where lines may break
BROKEN_WORDS = r"""() => {
  const broken = [];
  for (const el of document.querySelectorAll('th, td, nav a, label, button, h1, h2')) {
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node && broken.length < 5; node = walk.nextNode()) {
      for (const m of node.data.matchAll(/[^\s\/\-–]{2,}/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
                              .map(r => Math.round(r.bottom)));
        if (lines.size > 1) broken.push(el.tagName + ': ' + m[0]);
      }
    }
  }
  return broken;
}"""

# in English, Vietnamese left untranslated: text (and the words a screen reader or a
# phone's card reads from attributes) holding a letter only Vietnamese uses, or a date
# written the Vietnamese way (03/12/2026, 11/2026), outside the names the page marks
# lang="vi" (people, places, a phone's own label: the ``vi`` filter; the nearest lang
# attribute says which language a piece of text is in) and the sentences
# server/sync/describe.py writes with names inside (marked data-names)
UNTRANSLATED = r"""() => {
  const letters = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i;
  const only = {test: text => letters.test(text) || /\b\d{2}\/(\d{2}\/)?\d{4}\b(?!\/)/.test(text)};
  const english = el => (el.closest('[lang]')?.getAttribute('lang') || 'en') === 'en';
  const found = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const el = node.parentElement;
    if (only.test(node.data) && english(el) && !el.closest('script, style, [data-names]'))
      found.push(el.tagName + ': ' + node.data.trim().slice(0, 80));
  }
  for (const el of document.querySelectorAll(
      'body [aria-label], body [title], body [placeholder], body [data-label], body [alt]'))
    for (const name of ['aria-label', 'title', 'placeholder', 'data-label', 'alt'])
      if (only.test(el.getAttribute(name) || '') && english(el))
        found.push(el.tagName + '@' + name + ': ' + el.getAttribute(name).slice(0, 80));
  return [...new Set(found)];
}"""


@pytest.fixture(scope="module")
def served(demo_built: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    yield from _serve(demo_built, tmp_path_factory.mktemp("walk"))


def _serve(demo_built: dict, folder: Path) -> Iterator[dict]:
    """A server on a copy of the demo's database."""
    shutil.copy(demo_built["database"], folder / "demo.sqlite")
    app = make_app(f"sqlite:///{folder / 'demo.sqlite'}", folder / "instance",
                   A0SYNC_SECURE_COOKIES=False)
    context = app.app_context()
    context.push()
    try:
        with served_in_thread(app) as url:
            yield {"app": app, "url": url, "pages": pages(app, demo_values())}
    finally:
        context.pop()


def _log_in(browser, url: str, lang: str, username: str | None, password: str | None):
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(f"{url}/lang/{lang}")
    if username:
        tab.goto(f"{url}/login")
        tab.fill("input[name=username]", username)
        tab.fill("input[name=password]", password)
        with tab.expect_navigation():
            tab.click("main button[type=submit]")
        assert "/login" not in tab.url, tab.inner_text("main")
    return tab


def test_every_page_fits_a_phone_and_reads_in_both_languages(served: dict, demo_built: dict
                                                              ) -> None:
    _need_chromium()
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    url, accounts = served["url"], demo_built["accounts"]
    problems: list[str] = []
    findings: dict[str, list] = {}
    walked: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for lang in ("vi", "en"):
                tabs = {"out": _log_in(browser, url, lang, None, None),
                        "demo": _log_in(browser, url, lang, "demo", accounts["demo"])}
                for page in served["pages"]:
                    tab = tabs["out"] if page.endpoint in LOGGED_OUT else tabs["demo"]
                    tab.set_viewport_size({"width": WIDTHS[0], "height": 800})
                    response = tab.goto(url + page.path)
                    if response.status == 403:  # another role's page: the administrator's
                        if "admin" not in tabs:
                            tabs["admin"] = _log_in(browser, url, lang, "demo.admin",
                                                    accounts["demo.admin"])
                        tab = tabs["admin"]
                        tab.set_viewport_size({"width": WIDTHS[0], "height": 800})
                        response = tab.goto(url + page.path)
                    assert response.status == 200, (page, response.status)
                    assert tab.locator("html").get_attribute("lang") == lang, page
                    if lang == "en":
                        problems += [f"en {page.path}: untranslated: {text}"
                                     for text in tab.evaluate(UNTRANSLATED)]
                    name = re.sub(r"\W+", "-", page.endpoint)
                    for width in WIDTHS:
                        tab.set_viewport_size({"width": width, "height": 800})
                        found = tab.evaluate(OVERFLOW)
                        if found["page"] > 0 or found["culprits"]:
                            problems.append(f"{lang} {width}px {page.path}: {found}")
                        broken = tab.evaluate(BROKEN_WORDS)
                        if broken:
                            problems.append(f"{lang} {width}px {page.path}: words cut in "
                                            f"two: {broken}")
                        tab.screenshot(path=str(OUT / f"{lang}-{width}-{name}.png"),
                                       full_page=True)
                        if width == WIDTHS[0] and page.endpoint not in LOGGED_OUT:
                            # the menu folds behind its button; it opens on a tap
                            assert not tab.locator("nav#menu").is_visible(), page
                            tab.click("label.menu-button")
                            assert tab.locator("nav#menu").is_visible(), page
                            tab.click("label.menu-button")
                    tab.set_viewport_size({"width": WIDTHS[0], "height": 800})
                    result = axe.run(tab).response
                    serious = [v for v in result["violations"] if v["impact"] in SERIOUS]
                    findings[f"{lang} {page.path}"] = [
                        {"id": v["id"], "impact": v["impact"], "help": v["help"],
                         "nodes": [n["target"] for n in v["nodes"]][:5]}
                        for v in result["violations"]]
                    problems += [f"{lang} {page.path}: axe {v['id']} ({v['impact']}): "
                                 f"{v['help']} {[n['target'] for n in v['nodes']][:3]}"
                                 for v in serious]
                    walked.add(page.endpoint)
        finally:
            browser.close()
    (OUT / "axe.json").write_text(json.dumps(findings, ensure_ascii=False, indent=1))
    assert {"dashboard.sync_status", "dashboard.rollup_unit", "dashboard.api_help",
            "auth.login", "health.landing", "dashboard.batch"} <= walked
    assert not problems, "\n".join(problems)


# where the keyboard is: the focused element, whether it shows a ring (an outline of
# 2 px or more, or a box shadow; the menu's hidden checkbox shows it on its label) and
# is on the screen at all
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const shown = e.classList.contains('menu-toggle') ? e.nextElementSibling : e;
  const s = getComputedStyle(shown), r = shown.getBoundingClientRect();
  return {what: e.tagName + ' ' + (e.getAttribute('name') || e.id || e.innerText || '')
                  .trim().slice(0, 40),
          ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
                || s.boxShadow !== 'none',
          seen: r.width > 0 && r.height > 0 && s.visibility !== 'hidden'};
}"""

# a page's structure for a keyboard and a screen reader: one h1 first, no heading level
# skipped, every field named by a label (or aria-label), the skip link first
STRUCTURE = """() => {
  const found = [], levels = [...document.querySelectorAll('h1, h2, h3, h4')]
    .map(h => +h.tagName[1]);
  if (levels[0] !== 1) found.push('first heading h' + levels[0]);
  levels.forEach((l, i) => { if (i && l > levels[i - 1] + 1) found.push('h' + l + ' after h'
                                                                         + levels[i - 1]); });
  for (const f of document.querySelectorAll('input:not([type=hidden]), select, textarea'))
    if (!f.labels.length && !f.getAttribute('aria-label') && !f.classList.contains('menu-toggle'))
      found.push('no label: ' + f.name);
  if (!document.querySelector('body > a.skip[href="#main"]')) found.push('no skip link');
  return found;
}"""


class Keyboard:
    """One tab driven by keys alone; every stop the focus passes is checked."""

    def __init__(self, tab) -> None:
        self.tab, self.problems = tab, []

    def to(self, selector: str, key: str = "Tab", limit: int = 120) -> None:
        for _ in range(limit):
            self.tab.keyboard.press(key)
            stop = self.tab.evaluate(FOCUS)
            if stop is None:
                continue
            if not (stop["ring"] and stop["seen"]):
                self.problems.append(f"{self.tab.url}: focus not shown on {stop}")
            if self.tab.evaluate("s => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"{self.tab.url}: {key} never reaches {selector}")

    def press(self, selector: str, key: str = "Enter") -> None:
        """Go to the control and press it, then check the page it leads to."""
        self.to(selector)
        with self.tab.expect_navigation():
            self.tab.keyboard.press(key)
        self.problems += [f"{self.tab.url}: {p}" for p in self.tab.evaluate(STRUCTURE)]


def test_a_commune_officer_works_by_keyboard_alone(demo_built: dict,
                                                    tmp_path_factory: pytest.TempPathFactory
                                                    ) -> None:
    """Log in, sync status, a conflict, a duplicate pair, a stock receipt, the monthly
    report and its workbook, the language, log out: Tab, Shift+Tab, Enter, Space and
    arrows only, at 1280 px, in English."""
    _need_chromium()
    from playwright.sync_api import sync_playwright

    served = _serve(demo_built, tmp_path_factory.mktemp("keys"))
    url = next(served)["url"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            tab = browser.new_context(viewport={"width": 1280, "height": 800},
                                      accept_downloads=True).new_page()
            tab.set_default_timeout(30_000)
            keys = Keyboard(tab)
            tab.goto(f"{url}/lang/en")
            tab.goto(f"{url}/login")
            # a wrong password: the refusal is announced and tied to the fields
            tab.keyboard.type("demo")
            keys.to("input[name=password]")
            tab.keyboard.type("wrong")
            with tab.expect_navigation():
                tab.keyboard.press("Enter")
            assert tab.get_attribute("input[name=password]", "aria-describedby") == \
                tab.get_attribute("p.error[role=alert]", "id")
            assert tab.evaluate("document.activeElement.name") == "username"
            # the skip link comes first and leads into the page's content
            tab.evaluate("document.activeElement.blur()")
            keys.to("a.skip")
            assert tab.locator("a.skip").is_visible()
            tab.keyboard.press("Enter")
            assert tab.evaluate("document.activeElement.id") == "main"
            keys.to("input[name=username]")
            tab.keyboard.press("Control+a")
            tab.keyboard.type("demo")
            keys.to("input[name=password]")
            tab.keyboard.type(demo_built["accounts"]["demo"])
            keys.to("input[name=username]", key="Shift+Tab")  # back, and forth again
            keys.press("main button[type=submit]")
            assert "/login" not in tab.url
            keys.press('nav a[href$="/dashboard/"]')
            assert tab.locator("h1").inner_text() == "Sync status"
            # a conflict: the radio group by arrows, chosen by Space, saved by Enter
            keys.press('nav a[href$="/conflicts"]')
            first = tab.locator("section.conflict").first.get_attribute("id")
            keys.to(f"#{first} input[name=choice]")
            tab.keyboard.press("ArrowDown")
            tab.keyboard.press("ArrowUp")
            tab.keyboard.press("Space")
            keys.press(f"#{first} button[type=submit]")
            assert tab.locator(f"#{first}").count() == 0, tab.inner_text("main")
            # a duplicate pair: opened from the list, judged not a duplicate
            keys.press('nav a[href$="/duplicates"]')
            keys.press('main a[href*="/duplicates/"]')
            keys.press("#reject")
            assert tab.locator("p.ok[role=status]").count() == 1, tab.inner_text("main")
            # a stock receipt: its form opens from its summary, the quantity typed
            keys.press('nav a[href$="/stock"]')
            keys.to("#record-stock_receipt summary")
            tab.keyboard.press("Enter")
            keys.to("#record-stock_receipt input[name=quantity]")
            tab.keyboard.type("12")
            with tab.expect_navigation():
                tab.keyboard.press("Enter")
            assert tab.locator("p.ok[role=status]").count() == 1, tab.inner_text("main")
            # the monthly report and its workbook
            keys.press('nav a[href$="/rollups"]')
            keys.press("a#report")
            keys.to("a#report-xlsx")
            with tab.expect_download() as download:
                tab.keyboard.press("Enter")
            assert download.value.suggested_filename.endswith(".xlsx")
            # Vietnamese, then out
            keys.press(".lang a")
            assert tab.locator("html").get_attribute("lang") == "vi"
            keys.press(".who button")
            assert tab.locator('input[name="username"], a[href$="/login"]').count()
        finally:
            browser.close()
            served.close()
    assert not keys.problems, "\n".join(keys.problems)
