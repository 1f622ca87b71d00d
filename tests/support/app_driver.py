"""Drive the real app, in its own process under Xvfb, as a collaborator would.

Run by the UI tests and ``bench/app.py``::

    python -m tests.support.app_driver SCENARIO --data DIR --shots DIR --out result.json
        [--server URL] [--code CODE] [--pictures A.png B.png] [--pin PIN]

It starts the real :class:`~clients.kivy_app.ui.app.A0App` (real SDL2 window on
the X server) and, from inside Kivy's event loop, sends real touch events
(press/release through the window's input path) and keyboard text
(``Window.on_textinput``), counting every tap, saving a screenshot after each
step. What it saw is written as JSON for the test to check.

Scenarios: ``collaborator`` (enrol by typing the code, build a household, hand
out, record a birth, refused dates, offline and online sync, every screen in
both languages and both text sizes), ``scan`` (enrol by scanning pictures),
``p0`` (split a household, close the last month's P0 slip, sync), ``stock``
(confirm the station's issue, receive, a hand-out beyond the stock refused),
``e2e`` (a distribution, a birth, the monthly close and the sync, against a live
server)
and ``taps`` (a distribution and a birth on a prepared device, for the benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from kivy.config import Config

WINDOW = os.environ.get("A0_DRIVER_WINDOW", "360x740").split("x")  # a phone's dp
Config.set("graphics", "width", WINDOW[0])
Config.set("graphics", "height", WINDOW[1])
Config.set("input", "mouse", "mouse,disable_multitouch")

from kivy.base import EventLoop  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import Label as CoreLabel  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.metrics import dp  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402
from kivy.uix.behaviors import ButtonBehavior  # noqa: E402
from kivy.uix.image import Image  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.scrollview import ScrollView  # noqa: E402
from kivy.uix.textinput import TextInput  # noqa: E402

from a0core.schemas import registry  # noqa: E402
from a0core.sync_client import TransportError  # noqa: E402
from clients.kivy_app.core import dates  # noqa: E402
from clients.kivy_app.core.qrscan import grey_plane  # noqa: E402
from clients.kivy_app.ui.app import A0App  # noqa: E402
from clients.kivy_app.ui.fields import FieldInput  # noqa: E402
from clients.kivy_app.ui.scan import TextureFrames  # noqa: E402

PIN = "314159"
STARTED = time.monotonic()
RAW_KEY = re.compile(r"\((?:[a-z]+_)+[a-z]+\)|\b[a-z]+_[a-z_]+\b")  # "(member_id)", "event_date"


def label_of(codelist: str, code: str, lang: str = "vi") -> str:
    found = registry().codelist(codelist).get(code)
    assert found is not None, code
    return found.vi if lang == "vi" else found.en


class PictureFrames(TextureFrames):
    """A camera stand-in: one picture at a time in a Kivy Image, read back from its
    texture like the camera's (same class, same read-back). Counts what it gave."""

    def __init__(self, pictures: list[Path]) -> None:
        self.pictures = pictures
        self.widget = Image(fit_mode="contain")
        self.given: list[float] = []

    def show(self, index: int) -> None:
        self.widget.source = str(self.pictures[index])

    def frame(self) -> Any:
        frame = super().frame()
        if frame is not None:
            self.given.append(time.monotonic())
        return frame


def shown_widgets() -> Iterator[Any]:
    """Every widget a person can see now (hidden branches pruned)."""
    stack = list(Window.children)
    while stack:
        widget = stack.pop()
        if widget.opacity == 0 or widget.disabled or widget.height <= 0:
            continue
        yield widget
        stack.extend(widget.children)


def cut(label: Any) -> bool:
    """Does the label show less than its words (shortened, or past its width)?"""
    if label.texture_size[0] > label.width + 0.5:
        return True
    whole = CoreLabel(text=label.text, font_size=label.font_size, font_name=label.font_name,
                      bold=label.bold).get_extents(label.text)[0]
    return bool(label.shorten) and whole > label.width - label.padding_x * 2 + 0.5


def contrast(fore: Any, back: Any) -> float:
    """WCAG contrast ratio of two RGBA colours (alpha blended over the background)."""
    def luminance(rgb: Any) -> float:
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    alpha = fore[3] if len(fore) > 3 else 1
    blended = [f * alpha + b * (1 - alpha) for f, b in zip(fore[:3], back[:3], strict=True)]
    lighter, darker = sorted((luminance(blended), luminance(back[:3])), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


class NoSignal:
    """Airplane mode for the app's sync client: every request fails before leaving."""

    def __call__(self, *_: Any) -> Any:
        raise TransportError("no signal")


class Driver:
    def __init__(self, app: A0App, shots: Path, args: argparse.Namespace,
                 frames: PictureFrames | None = None) -> None:
        self.app = app
        self.shots = shots
        self.args = args
        self.frames = frames
        self.result: dict[str, Any] = {"steps": [], "shots": [], "small_targets": [],
                                       "clipped": [], "raw_keys": [], "taps": {},
                                       "low_contrast": []}
        self.n = 0
        self.taps = 0

    # -------------------------------------------------------------- input

    def reveal(self, widget: Any) -> None:
        parent = widget.parent
        for _ in range(60):  # the window is its own parent: walk a bounded way up
            if parent is None or isinstance(parent, ScrollView) or parent is parent.parent:
                break
            parent = parent.parent
        if isinstance(parent, ScrollView):
            parent.scroll_to(widget, padding=40, animate=False)

    def tap(self, widget: Any) -> None:
        """One real touch at the widget's centre: what a thumb does, and counted."""
        assert widget.get_root_window() is not None, f"{widget} is not on screen"
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.taps += 1

    def type(self, text: str) -> None:
        Window.dispatch("on_textinput", text)

    def back_key(self) -> None:
        """The phone's back key (Android sends it as key 27)."""
        Window.dispatch("on_keyboard", 27, 0, None, [])
        self.taps += 1

    def asked(self, name: str) -> bool:
        return name in self.app.w and self.app.w[name].get_root_window() is not None

    def question(self) -> Iterator[None]:
        """Until the form's question is open (its opening takes a few frames)."""
        yield from self.until(lambda: self.asked("discard.leave"))
        for _ in range(8):
            yield

    def cancel_form(self, back: str) -> Iterator[None]:
        """«Huỷ» on a form, and «Bỏ, không lưu» if it asks (something was entered)."""
        yield from self.press("form.cancel")
        yield
        if self.asked("discard.leave"):
            yield from self.question()
            self.tap(self.app.w["discard.leave"])
            yield from self.until(lambda: not self.asked("discard.leave"))  # faded out
        yield from self.screen_is(back)

    @staticmethod
    def in_view(widget: Any, scroll: ScrollView) -> bool:
        """Is the widget wholly inside the scroll view's window?"""
        _, bottom = widget.to_window(widget.x, widget.y)
        _, low = scroll.to_window(scroll.x, scroll.y)
        return bottom >= low - 0.5 and bottom + widget.height <= low + scroll.height + 0.5

    def erase(self, target: TextInput) -> None:
        target.select_all()
        target.delete_selection()

    def shot(self, name: str) -> Iterator[None]:
        for _ in range(5):  # let the screen switch finish and a frame be drawn
            yield
        self.check_screen(name)
        self._save(name)

    def _save(self, name: str) -> None:
        self.n += 1
        path = Window.screenshot(name=str(self.shots / f"{self.n:02d}-{name}.png"))
        self.result["shots"].append(path)

    def mark(self, name: str) -> None:
        print(f"driver: {time.monotonic() - STARTED:6.1f} s   {name}", file=sys.__stderr__,
              flush=True)

    def step(self, name: str) -> None:
        self.result["steps"].append(name)
        print(f"driver: {time.monotonic() - STARTED:6.1f} s {name}", file=sys.__stderr__,
              flush=True)

    def check_screen(self, name: str) -> None:
        """What a person sees now: every touch target at least 48 dp; no button's words
        past its edges; no field key in any text shown."""
        for widget in shown_widgets():
            touchable = isinstance(widget, ButtonBehavior | TextInput) \
                and getattr(widget, "touch_target", True)
            if touchable and min(widget.width, widget.height) < dp(48) - 0.5 \
                    and widget.width > 0 and widget.height > 0:
                self.result["small_targets"].append(
                    [name, type(widget).__name__, getattr(widget, "text", "")[:30],
                     round(widget.width), round(widget.height)])
            label = widget.ids.get("lbl_txt") if touchable else None
            if label is not None and label.text and widget.width > 0:
                left, _ = label.to_window(label.x, label.y)
                if left < -0.5 or left + label.width > Window.width + 0.5 \
                        or label.width > widget.width + 0.5:
                    self.result["clipped"].append(
                        [name, label.text[:40], round(left), round(label.width)])
            words = getattr(widget, "text", None)
            if isinstance(words, str) and not isinstance(widget, TextInput) \
                    and RAW_KEY.search(words):
                self.result["raw_keys"].append([name, words[:120]])
            if type(widget).__name__ == "HouseholdRow":  # head, address, people: whole
                icon = set(widget.ids.quick.walk(restrict=True))
                for label in (w for w in widget.walk(restrict=True)
                              if isinstance(w, Label) and w not in icon):
                    if cut(label) or label.y < widget.y - 0.5 or label.top > widget.top + 0.5:
                        self.result["clipped"].append([name, label.text[:40], round(label.y),
                                                       round(widget.y)])
        bar = getattr(self.app.sm.current_screen, "topbar", None)
        for label in (bar.title, bar.state) if bar is not None else ():
            if label.text and cut(label):  # the area's name, or when the last sync went
                self.result["clipped"].append([name, label.text[:40], round(label.x),
                                               round(label.width)])
            if label.text and contrast(label.text_color, bar.md_bg_color) < 4.5:  # WCAG AA
                self.result["low_contrast"].append([name, label.text[:40]])

    # ---------------------------------------------------------- helpers

    def until(self, check: Callable[[], bool], timeout: float = 20.0) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s; screen {self.app.sm.current}")
            yield

    def screen_is(self, name: str, timeout: float = 20.0) -> Iterator[None]:
        yield from self.until(lambda: self.app.sm.current == name, timeout)
        yield

    def field(self, name: str) -> FieldInput:
        return self.app.w[f"form.{name}"]

    def fill(self, name: str, text: str, clear: bool = False) -> Iterator[None]:
        widget = self.app.w[name]
        target = widget.input if isinstance(widget, FieldInput) else widget
        self.reveal(target)
        yield
        self.tap(target)
        yield
        assert target.focus, f"{name} did not take focus"
        if clear:
            self.erase(target)
        self.type(text)
        yield

    def choose(self, name: str, label: str, shot: str = "") -> Iterator[None]:
        """Pick ``label`` in a choice field: one tap on its chip, or open the list and
        tap it there (typing a few letters to find it in a long list)."""
        field: FieldInput = self.app.w[name]
        code = next(c for c, shown in field.options if shown == label)
        if field.chips:
            chip = field.chips[code]
            yield  # chips just made (the person changed) are laid out a frame later
            self.reveal(chip)
            yield
            yield
            self.tap(chip)
        else:
            self.reveal(field.input)
            yield
            self.tap(field.input)
            yield from self.until(lambda: getattr(field, "list", None) is not None
                                  and field.list.get_root_window() is not None)
            yield
            choices = field.list
            if choices.search is not None and code not in self._visible(choices):
                self.tap(choices.search)
                yield
                self.type(label.split()[0])
                yield
            row = choices.buttons[code]
            choices.rows.parent.scroll_to(row, animate=False)
            yield
            yield
            if shot:
                yield from self.shot(shot)
            self.tap(row)
            yield from self.until(lambda: choices.parent is None)
        yield from self.until(lambda: field.code == code)
        yield

    @staticmethod
    def _visible(choices: Any) -> set[str]:
        return {c for c, b in choices.buttons.items() if b.parent is not None}

    def press(self, name: str) -> Iterator[None]:
        widget = self.app.w[name]
        self.reveal(widget)
        yield
        self.tap(widget)
        yield

    def household_row(self, number: str) -> Iterator[Any]:
        """The list's row of household ``number`` (searched for, as a person would)."""
        rv = self.app.w["list.rv"]
        yield from self.until(lambda: any(v.title.startswith(self.app.t(
            "household_no", n=number) + " ") for v in rv.layout_manager.children))
        return next(v for v in rv.layout_manager.children
                    if v.title.startswith(self.app.t("household_no", n=number) + " "))

    def save_form(self, back: str) -> Iterator[None]:
        yield from self.press("form.save")
        yield from self.screen_is(back)

    def chips_of(self, name: str) -> list[str]:
        return [label for _code, label in self.field(name).options]

    # ---------------------------------------------------------- flows

    def enrol_typed(self, languages: bool = False) -> Iterator[None]:
        app = self.app
        yield from self.screen_is("enrol")
        self.result["scan_offered"] = "enrol.scan" in app.w
        self.result["privacy"] = app.w["enrol.privacy"].text
        if languages:  # before enrolling too, English is a tap away (and back)
            yield from self.press("settings")
            yield from self.screen_is("settings")
            yield from self.press("settings.lang.en")
            yield
            yield from self.press("back")
            yield from self.screen_is("enrol")
            self.result["enrol_english"] = self.words()
            yield from self.shot("en-enrol")
            app.set_pref(lang="vi")
            yield
        yield from self.shot("enrol")
        yield from self.fill("enrol.code", self.args.code)
        yield from self.fill("enrol.pin", PIN)
        yield from self.fill("enrol.pin_again", PIN)
        yield from self.shot("enrol-filled")
        yield from self.press("enrol.submit")
        self.result["enrol_message"] = app.w["enrol.message"].text
        yield from self.screen_is("households", 60)
        self.result["enrolled_snack"] = app.said
        self.step("enrolled")
        yield from self.shot("households-empty")

    def add_household(self, address: str) -> Iterator[None]:
        app = self.app
        yield from self.press("list.add")
        yield from self.screen_is("form")
        self.result["household_defaults"] = {"number": self.field("number").value(),
                                             "village": self.field("village_code").value()}
        self.result["villages"] = self.chips_of("village_code")
        yield from self.fill("form.address", address)
        yield from self.shot("household-form")
        yield from self.save_form("household")
        self.result["saved_snack"] = app.said
        self.step("household added")

    def add_member(self, name: str, relation: str, sex: str, birth: str, marital: str,
                   ethnicity: bool = True, mother: str | None = None,
                   shot: str = "") -> Iterator[None]:
        self.mark(f"add {name}")
        yield from self.press("household.add_member")
        yield from self.screen_is("form")
        yield from self.fill("form.full_name", name)
        if self.field("relation").code != relation:
            yield from self.choose("form.relation", label_of("relation", relation),
                                   shot if relation == "spouse" else "")
        yield from self.choose("form.sex", label_of("sex", sex))
        yield from self.fill("form.birth_date", birth)
        if ethnicity and self.field("ethnicity").code is None:
            yield from self.choose("form.ethnicity", label_of("ethnicity", "kinh"))
        yield from self.choose("form.marital_status", label_of("marital_status", marital))
        if mother is not None:
            yield from self.choose("form.mother_id", mother)
        if shot:
            yield from self.shot(shot)
        yield from self.save_form("household")

    def distribution_from_list(self, number: str, recipient: str | None, method: str,
                               quantity: str) -> Iterator[None]:
        """From the household list to a saved hand-out; the taps are counted."""
        app = self.app
        app.go("households")
        yield from self.screen_is("households")
        app.w["list.search"].text = number  # the row on screen, however long the list
        yield
        row = yield from self.household_row(number)
        start = self.taps
        self.tap(row.ids["quick"])
        yield from self.screen_is("form")
        self.result.setdefault("distribution_prefill", []).append(
            {"member": self.field("member_id").code, "method": self.field("method").code,
             "date": self.field("distributed_on").value()})
        if recipient is not None and self.field("member_id").code is None:
            yield from self.choose("form.member_id", recipient)
        if self.field("method").code != method:
            yield from self.choose("form.method", label_of("contraceptive_method", method))
        yield from self.fill("form.quantity", quantity)
        yield from self.shot("distribution-form")
        yield from self.save_form("households")
        self.result["taps"].setdefault("distribution", []).append(self.taps - start)

    def birth_from_list(self, number: str, child: str, sex: str) -> Iterator[None]:
        app = self.app
        app.go("households")
        yield from self.screen_is("households")
        app.w["list.search"].text = number
        yield
        row = yield from self.household_row(number)
        start = self.taps
        self.tap(row)
        yield from self.screen_is("household")
        yield from self.press("household.birth")
        yield from self.screen_is("form")
        self.result["birth_prefill"] = {
            "mother": self.field("member_id").code, "mothers": self.chips_of("member_id"),
            "date": self.field("event_date").value(),
            "order": self.field("birth_order").value()}
        if self.field("member_id").code is None:  # several women: the first
            yield from self.choose("form.member_id", self.chips_of("member_id")[0])
        yield from self.fill("form.child_name", child)
        yield from self.choose("form.sex", label_of("sex", sex))
        yield from self.choose("form.place_of_birth", label_of("place_of_birth", "hospital"))
        yield from self.shot("birth-form")
        yield from self.save_form("household")
        self.result["taps"]["birth"] = self.taps - start

    def open_member(self, name: str) -> Iterator[None]:
        yield from self.press(f"member:{name}")
        yield from self.screen_is("member")

    def events_offered(self) -> list[str]:
        return sorted(k.split(":", 1)[1] for k, w in self.app.w.items()
                      if k.startswith("event:") and w.get_root_window() is not None)

    # ---------------------------------------------------------- scenarios

    def collaborator(self) -> Iterator[None]:
        app, r = self.app, self.result
        yield from self.enrol_typed(languages=True)
        r["sync_message_first"] = self.app.w["message"].text
        yield from self.add_household("Xóm Giữa, thôn Đông Hồ")
        # the head: a date typed the wrong way is refused with the format expected
        yield from self.press("household.add_member")
        yield from self.screen_is("form")
        r["member_defaults"] = {"relation": self.field("relation").code,
                                "residence": self.field("residence_status").code}
        yield from self.fill("form.full_name", "Đỗ Thị Ngọc Ánh")
        yield from self.choose("form.sex", label_of("sex", "female"))
        yield from self.fill("form.birth_date", "21/7/94")
        yield from self.choose("form.ethnicity", label_of("ethnicity", "kinh"))
        yield from self.choose("form.marital_status", label_of("marital_status", "married"))
        scroll = app.screen("form").scroll
        scroll.scroll_y = 0  # at the foot of the form: the date to fix is out of view
        yield
        yield
        r["error_out_of_view"] = not self.in_view(self.field("birth_date").input, scroll)
        yield from self.press("form.save")
        r["bad_date"] = self.field("birth_date").error_text
        r["form_message"] = app.w["message"].text
        yield from self.shot("member-form-refused")
        r["error_in_view"] = self.in_view(self.field("birth_date").input, scroll)
        yield from self.fill("form.birth_date", "21/07/1994", clear=True)
        # a man's identification number on a woman's record: saved, and said at once
        yield from self.fill("form.id_number", "001 094 012345")
        yield from self.shot("member-form")
        yield from self.save_form("household")
        yield from self.until(lambda: "warning.ok" in app.w
                              and app.w["warning.ok"].get_root_window() is not None)
        r["saved_warning"] = app.w["warning.text"].text
        yield from self.shot("member-saved-warning")
        yield from self.press("warning.ok")
        yield from self.until(lambda: app.w["warning.ok"].get_root_window() is None)
        self.step("member added")
        yield from self.add_member("Lê Văn Hùng", "spouse", "male", "02/03/1991", "married",
                                   shot="choice-list")
        yield from self.add_member("Lê Minh Khang", "child", "male", "15/05/2025", "single",
                                   mother="Đỗ Thị Ngọc Ánh")
        yield from self.add_member("Phạm Thị Lành", "parent_in_law", "female", "1950", "widowed",
                                   shot="member-form-year-only")
        yield from self.shot("household-card")
        # forms offer what applies
        self.mark("members added")
        yield from self.open_member("Đỗ Thị Ngọc Ánh")
        r["events_woman"] = self.events_offered()
        yield from self.shot("member-woman")
        app.go("household", id=app.screen("member").member.household_id)
        yield from self.screen_is("household")
        yield from self.open_member("Lê Văn Hùng")
        r["events_man"] = self.events_offered()
        app.go("household", id=app.screen("member").member.household_id)
        yield from self.screen_is("household")
        yield from self.open_member("Phạm Thị Lành")
        r["events_elder"] = self.events_offered()
        # an elderly check-up, its date chosen in the picker
        self.mark("elder's page")
        yield from self.press("event:elderly_check")
        yield from self.screen_is("form")
        r["event_date_default"] = self.field("event_date").value()
        yield from self.fill("form.event_date", "03/12/26", clear=True)
        yield from self.choose("form.result", label_of("elderly_check_result", "healthy"))
        yield from self.press("form.save")
        r["bad_event_date"] = self.field("event_date").error_text
        self.mark("elderly check refused")
        picker_field = self.field("event_date")
        self.reveal(picker_field.picker)
        yield
        self.tap(picker_field.picker)
        yield from self.until(lambda: self._picker() is not None)
        picker = self._picker()
        yield from self.shot("date-picker")
        r["picker_words"] = [w.text for w in picker.walk() if getattr(w, "text", "")]
        day = 1 if dates.today()[8:10] != "01" else 2
        self.tap(picker.days[day])
        yield from self.until(lambda: self._picker() is None)
        yield
        r["picked_date"] = picker_field.value()
        yield from self.save_form("member")
        r["elder_snack"] = app.said
        self.step("elderly check recorded")
        app.go("households")
        yield from self.screen_is("households")
        # a hand-out from the list: who may receive what
        yield from self.distribution_from_list("1", "Đỗ Thị Ngọc Ánh", "pill", "3")
        r["distribution_snack"] = app.said
        self.step("distribution recorded")
        row = yield from self.household_row("1")
        self.tap(row.ids["quick"])
        yield from self.screen_is("form")
        r["recipients"] = self.chips_of("member_id")
        yield from self.choose("form.member_id", "Phạm Thị Lành")
        r["methods_for_elder"] = self.chips_of("method")
        yield from self.shot("distribution-to-elder")
        # what was chosen is not dropped without asking: «Huỷ», then the back key
        yield from self.press("form.cancel")
        yield from self.question()
        r["discard_words"] = app.w["discard.words"].text
        yield from self.shot("discard-asked")
        self.tap(app.w["discard.keep"])
        yield from self.until(lambda: not self.asked("discard.keep"))
        r["kept"] = [app.sm.current, dict(self.field("member_id").options).get(
            self.field("member_id").code)]
        self.back_key()
        yield from self.question()
        self.back_key()  # the back key closes the question, and the form stays
        yield from self.until(lambda: not self.asked("discard.keep"))
        r["kept_after_back_key"] = app.sm.current
        self.back_key()
        yield from self.question()
        self.tap(app.w["discard.leave"])
        yield from self.screen_is("households")
        r["snack_after_cancel"] = app.said
        yield from self.distribution_from_list("1", None, "pill", "1")
        yield from self.birth_from_list("1", "Lê Minh Anh", "female")
        self.step("birth recorded")
        r["members_shown"] = sorted(k[7:] for k in app.w if k.startswith("member:")
                                    and app.w[k].get_root_window() is not None)
        yield from self.shot("household-with-child")
        # offline: nothing is called sent
        client = app.core.client
        real = client.http.transport
        client.http.transport = NoSignal()
        app.go("sync")
        yield from self.screen_is("sync")
        r["sync_message_before"] = app.w["message"].text
        yield from self.press("sync.now")
        yield from self.until(lambda: not app.busy)
        yield
        r["offline_message"] = app.w["message"].text
        r["offline_state"] = app.screen("sync").topbar.state.text
        r["offline_outbox"] = app.core.outbox_counts()
        r["offline_lines"] = [w.text for w in app.screen("sync").walk()
                              if getattr(w, "text", "").startswith("#")]
        yield from self.shot("sync-offline")
        self.back_key()  # back a screen, as the arrow does; the app stays open
        yield from self.screen_is("households")
        r["list_state_offline"] = app.screen("households").topbar.state.text
        app.go("sync")
        yield from self.screen_is("sync")
        r["sync_message_again"] = app.w["message"].text
        client.http.transport = real
        yield from self.press("sync.now")
        yield from self.until(lambda: not app.busy, 60)
        yield
        self.step("synced")
        r["outbox"] = app.core.outbox_counts()
        r["sync_summary"] = app.w["sync.summary"].text
        r["message"] = app.w["message"].text
        r["synced_state"] = app.screen("sync").topbar.state.text
        r["synced_lines"] = [w.text for w in app.screen("sync").walk()
                             if getattr(w, "text", "").startswith("#")]
        r["warning_notices"] = [app.w[k].words for k in app.w if k.startswith("notice.warning:")]
        r["sync_privacy"] = app.w["sync.privacy"].text
        yield from self.shot("sync-after")
        # the phone's clock three days behind: the sync goes through, and the phone says
        # that the dates it fills in may be wrong, until the clock is set right
        phone_time = client.http.now_ms
        app.core.now_ms = client.http.now_ms = lambda: phone_time() - 3 * 24 * 3600 * 1000
        yield from self.press("sync.now")
        yield from self.until(lambda: not app.busy, 60)
        yield
        r["clock_behind"] = {"state": app.screen("sync").topbar.state.text,
                             "words": app.w["sync.clock"].text,
                             "shown": app.w["sync.clock"].get_root_window() is not None}
        yield from self.shot("sync-clock-behind")
        app.core.now_ms, client.http.now_ms = None, phone_time  # set right: said no more
        app.redraw()
        yield
        r["clock_set"] = {"state": app.screen("sync").topbar.state.text,
                          "shown": app.w["sync.clock"].get_root_window() is not None}
        yield from self.press("sync.now")
        yield from self.until(lambda: not app.busy, 60)
        yield
        r["clock_right"] = app.screen("sync").topbar.state.text
        r["nothing_new"] = app.w["message"].text
        app.go("households")
        yield from self.screen_is("households")
        yield from self.fill("list.search", "ngoc anh")
        yield
        r["search"] = [d["title"] for d in app.w["list.rv"].data]
        r["household_ids"] = [d["hid"] for d in app.w["list.rv"].data]
        yield from self.shot("search")
        row = yield from self.household_row("1")
        r["list_row"] = [row.title, row.subtitle]
        yield from self.fill("list.search", "", clear=True)
        # the same screens in English, then with larger text
        yield from self.tour("en", "large")
        yield from self.tour("vi", "larger", every=False)
        self.step("toured")

    def _picker(self) -> Any:
        from clients.kivy_app.ui.datepicker import DatePicker

        return next((w for w in Window.children if isinstance(w, DatePicker)), None)

    def tour(self, lang: str, size: str, every: bool = True) -> Iterator[None]:
        """Every screen of the app in one language and text size, photographed (or,
        not ``every``, the list, a household and a form: enough to see the text size)."""
        app, r = self.app, self.result
        app.go("settings", back="households")
        yield from self.screen_is("settings")
        yield from self.press(f"settings.lang.{lang}")
        yield
        yield from self.press(f"settings.text.{size}")
        yield
        tag = f"{lang}-{size}"
        seen: dict[str, list[str]] = {}
        yield from self.shot(f"{tag}-settings")
        for name, params in (("households", {}), ("sync", {}))[:2 if every else 1]:
            app.go(name, **params)
            yield from self.screen_is(name)
            yield from self.shot(f"{tag}-{name}")
            seen[name] = self.words()
        hid = r["household_ids"][0]
        app.go("household", id=hid)
        yield from self.screen_is("household")
        yield from self.shot(f"{tag}-household")
        seen["household"] = self.words()
        if every:
            yield from self.open_member("Phạm Thị Lành")
            yield from self.shot(f"{tag}-member")
            seen["member"] = self.words()
            app.go("household", id=hid)
            yield from self.screen_is("household")
            yield from self.press("household.split")
            yield from self.screen_is("split")
            yield from self.shot(f"{tag}-split")
            seen["split"] = self.words()
            app.go("p0")
            yield from self.screen_is("p0")
            yield from self.shot(f"{tag}-p0")
            seen["p0"] = self.words()
            app.go("household", id=hid)
            yield from self.screen_is("household")
        yield from self.press("household.distribution")
        yield from self.screen_is("form")
        yield from self.shot(f"{tag}-distribution-form")
        seen["form"] = self.words()
        if every:
            self.reveal(self.field("distributed_on").picker)
            yield
            self.tap(self.field("distributed_on").picker)
            yield from self.until(lambda: self._picker() is not None)
            yield from self.shot(f"{tag}-date-picker")
            seen["picker"] = [w.text for w in self._picker().walk() if getattr(w, "text", "")]
            self._picker().dismiss()
            yield from self.until(lambda: self._picker() is None)
        r.setdefault("tours", {})[tag] = {
            "words": seen, "label_px": app.w["message"].font_size,
            "title_px": app.screen("form").topbar.title.font_size}
        yield from self.cancel_form("household")
        # locked: the PIN opens it again (a wrong one is refused, in this language)
        app.go("settings", back="household")
        yield from self.screen_is("settings")
        yield from self.press("settings.lock")
        yield from self.screen_is("unlock")
        yield from self.fill("unlock.pin", "000000")
        yield from self.press("unlock.submit")
        r.setdefault("wrong_pin", {})[tag] = app.w["message"].text
        yield from self.shot(f"{tag}-unlock-refused")
        yield from self.fill("unlock.pin", PIN, clear=True)
        yield from self.press("unlock.submit")
        yield from self.screen_is("households")

    def words(self) -> list[str]:
        screen = self.app.screen(self.app.sm.current)
        return [w.text for w in screen.walk() if isinstance(getattr(w, "text", None), str)
                and w.text and not isinstance(w, TextInput)]

    def e2e(self) -> Iterator[None]:
        """A distribution, a birth, the monthly close, the sync: for the dashboard."""
        app, r = self.app, self.result
        yield from self.enrol_typed()
        yield from self.add_household("Thôn Đông Hồ")
        yield from self.add_member("Hà Thị Thu", "head", "female", "12/08/1996", "married",
                                   ethnicity=True)
        yield from self.distribution_from_list("1", "Hà Thị Thu", "pill", "2")
        yield from self.birth_from_list("1", "Hà Minh Châu", "female")
        yield from self.close_month()
        yield from self.sync_now()
        r["outbox"] = app.core.outbox_counts()
        r["device_id"] = app.core.device_id
        r["message"] = app.w["message"].text
        yield from self.shot("e2e-synced")

    def close_month(self) -> Iterator[None]:
        """The monthly close of the last month that has ended, from the household list."""
        app, r = self.app, self.result
        app.go("households")
        yield from self.screen_is("households")
        yield from self.press("list.p0")
        yield from self.screen_is("p0")
        r["close_label"] = app.w["p0.close"].text
        r["before_close"] = app.w["p0.status"].text
        r["p0_sections"] = self.words()
        yield from self.shot("p0-open")
        yield from self.press("p0.close")
        yield from self.until(lambda: app.w["p0.close"].disabled)
        yield
        r["after_close"] = app.w["p0.status"].text
        r["close_snack"] = app.said
        r["month"] = app.core.slip_months()[0].month
        yield from self.shot("p0-closed")
        self.step("closed")

    def sync_now(self) -> Iterator[None]:
        app = self.app
        app.go("sync")
        yield from self.screen_is("sync")
        yield from self.press("sync.now")
        yield from self.until(lambda: not app.busy, 60)
        yield
        self.step("synced")

    def p0_scenario(self) -> Iterator[None]:
        """A household split from a date, then the monthly close: the last month's nil
        report, sent, and the server's word on it after the next sync."""
        app, r = self.app, self.result
        yield from self.enrol_typed()
        yield from self.add_household("Bản Nà Hin")
        yield from self.add_member("Vi Văn Thắng", "head", "male", "1970", "married")
        yield from self.add_member("Vi Văn Tùng", "child", "male", "1999", "married")
        old = app.screen("household").params["id"]
        yield from self.press("household.split")
        yield from self.screen_is("split")
        r["split_date"] = app.w["split.date"].text  # today, by default
        r["split_number"] = app.w["split.number"].text  # the next number
        yield from self.press("split.save")  # nobody chosen: refused, in words
        r["split_refusal"] = app.w["message"].text
        yield from self.press("split.pick:Vi Văn Tùng")
        r["split_message_after_pick"] = app.w["message"].text
        # «Huỷ» with someone ticked asks first; «Tiếp tục nhập» keeps the tick
        yield from self.press("split.cancel")
        yield from self.question()
        r["split_discard_words"] = app.w["discard.words"].text
        self.tap(app.w["discard.keep"])
        yield from self.until(lambda: not self.asked("discard.keep"))
        r["split_kept"] = [app.sm.current, app.w["split.pick:Vi Văn Tùng"].active]
        yield from self.shot("split")
        yield from self.press("split.save")
        yield from self.until(lambda: app.sm.current == "household"
                              and app.screen("household").params["id"] != old)
        yield
        self.step("split")
        r["new_household"] = {"id": app.screen("household").params["id"], "members": sorted(
            k[7:] for k in app.w if k.startswith("member:")
            and app.w[k].get_root_window() is not None)}
        r["old_members"] = [m.data["full_name"] for m in app.core.register.members_of(old)]
        yield from self.shot("new-household")
        yield from self.close_month()
        yield from self.sync_now()
        r["outbox"] = app.core.outbox_counts()
        app.go("p0")
        yield from self.screen_is("p0")
        r["after_sync"] = app.w["p0.status"].text
        yield from self.shot("p0-server")

    def stock_scenario(self) -> Iterator[None]:
        """Offline after enrolment: the station's issue confirmed from the stock screen,
        10 condoms recorded as received, a hand-out of 12 refused beside the quantity
        with the balance, then 10 handed out (issue 17)."""
        app, r = self.app, self.result
        yield from self.enrol_typed()
        yield from self.add_household("Bản Mòn")
        hid = app.screen("household").params["id"]
        app.core.client.http.transport = NoSignal()  # nothing leaves the phone from here
        app.go("households")
        yield from self.screen_is("households")
        yield from self.press("list.stock")
        yield from self.screen_is("stock")
        r["stock_first"] = self.words()
        issues = [k for k in app.w if k.startswith("stock.confirm:")
                  and app.w[k].get_root_window() is not None]
        r["issues"] = [app.w[k].words for k in issues]
        yield from self.shot("stock-first")
        yield from self.press(issues[0])
        yield from self.screen_is("form")
        r["confirm_lead"] = app.w["form.lead"].text
        r["confirm_prefill"] = self.field("received_quantity").value()
        yield from self.shot("stock-confirm-form")
        yield from self.save_form("stock")
        self.step("confirmed")
        yield from self.press("stock.stock_receipt")
        yield from self.screen_is("form")
        yield from self.choose("form.method", label_of("contraceptive_method", "condom"))
        yield from self.fill("form.quantity", "10")
        yield from self.choose("form.supplier", label_of("stock_supplier", "social_marketing"))
        yield from self.shot("stock-receipt-form")
        yield from self.save_form("stock")
        r["receipt_snack"] = app.said
        self.step("received")
        r["stock_held"] = {k.split(":", 1)[1]: app.w[k].text for k in app.w
                           if k.startswith("stock.held:")}
        r["issues_left"] = [k for k in app.w if k.startswith("stock.confirm:")
                            and app.w[k].get_root_window() is not None]
        yield from self.shot("stock-after-receipt")
        yield from self.press("stock.stock_adjustment")  # a count: the books' balance filled in
        yield from self.screen_is("form")
        yield from self.choose("form.method", label_of("contraceptive_method", "pill"))
        r["book_balance"] = self.field("book_balance").value()
        yield from self.cancel_form("stock")
        app.go("household", id=hid)
        yield from self.screen_is("household")
        yield from self.press("household.distribution")
        yield from self.screen_is("form")
        r["stock_line"] = app.w["form.lead"].text
        yield from self.choose("form.method", label_of("contraceptive_method", "condom"))
        yield from self.fill("form.quantity", "12")
        yield from self.press("form.save")
        yield
        yield
        r["refused_on"] = app.sm.current
        r["refusal"] = self.field("quantity").error_text
        r["refusal_message"] = app.w["message"].text
        r["outbox_after_refusal"] = app.core.outbox_counts()
        yield from self.shot("over-stock-refused")
        yield from self.fill("form.quantity", "10", clear=True)
        yield from self.save_form("household")
        self.step("handed out")
        r["on_hand"] = app.core.stock_on_hand()
        r["outbox"] = app.core.outbox_counts()
        app.set_pref(lang="en")
        app.go("stock")
        yield from self.screen_is("stock")
        r["stock_english"] = self.words()
        yield from self.shot("en-stock")
        app.set_pref(lang="vi")
        # the household refused (the verdict as a receipt gives it), fixed from its notice:
        # no longer to fix, and the notice no longer opens the record
        app.core.apply_verdicts([{
            "seq": 1, "verdict": "rejected", "code": "record_invalid",
            "message_vi": "Bản ghi không hợp lệ (1 lỗi)", "message_en": "Invalid (1 error)",
            "errors": [{"field": "address", "code": "required", "message_vi": "Cần ghi địa chỉ",
                        "message_en": "The address is required"}]}])
        app.go("sync")
        yield from self.screen_is("sync")
        r["refused_state"] = app.screen("sync").topbar.state.text
        yield from self.press("notice.rejected:1")
        yield from self.screen_is("form")
        r["fix_error"] = self.field("address").error_text
        yield from self.fill("form.address", "Bản Noong Luông", clear=True)
        yield from self.save_form("sync")
        yield
        r["fixed_state"] = app.screen("sync").topbar.state.text
        r["fixed_notice"] = app.w["notice.fixed:1"].text
        r["fix_reopens"] = self.asked("notice.rejected:1")
        r["sync_lines"] = [w.text for w in app.screen("sync").walk()
                           if getattr(w, "text", "").startswith("#")]
        yield from self.shot("refusal-fixed")

    def taps_scenario(self) -> Iterator[None]:
        """On a prepared device: a hand-out and a birth from the household list."""
        app, r = self.app, self.result
        yield from self.screen_is("households", 60)
        number = self.args.household
        yield from self.distribution_from_list(number, self.args.recipient, "pill", "3")
        yield from self.birth_from_list(number, "Nguyễn Minh An", "male")
        r["outbox"] = app.core.outbox_counts()

    def scan_scenario(self) -> Iterator[None]:
        """Enrol by scanning: a foreign QR code is refused with its reason, the
        enrolment QR code fills server and code, the collaborator adds a PIN."""
        app, frames = self.app, self.frames
        assert frames is not None
        yield from self.screen_is("enrol")
        self.result["server_before"] = app.w["enrol.server"].text
        frames.show(0)
        yield from self.shot("enrol-with-scan")
        yield from self.press("enrol.scan")
        yield from self.screen_is("scan")
        yield from self.until(lambda: app.w["scan.message"].text != "")
        self.result["refusal"] = app.w["scan.message"].text
        self.result["still_scanning"] = app.sm.current == "scan" and app.scanner.running
        yield from self.shot("scan-refused")
        frame = frames.frame()  # which way up the read-back comes
        plane, width, _ = grey_plane(frame)
        self.result["rows_mean"] = [sum(plane[:width]) / width, sum(plane[-width:]) / width]
        started = time.monotonic()
        given_before = len(frames.given)
        frames.show(1)
        yield from self.screen_is("enrol")
        self.result["scan_s"] = time.monotonic() - started
        self.result["frames_while_scanning"] = len(frames.given) - given_before
        self.step("scanned")
        self.result["filled"] = {"server": app.w["enrol.server"].text,
                                 "code": app.w["enrol.code"].text}
        self.result["message"] = app.w["enrol.message"].text
        yield from self.shot("enrol-scanned")
        yield from self.fill("enrol.pin", PIN)
        yield from self.fill("enrol.pin_again", PIN)
        yield from self.press("enrol.submit")
        yield from self.screen_is("households", 60)
        self.step("enrolled")
        self.result["area"] = app.core.area
        yield from self.shot("households")

    def run(self, *_: Any) -> None:
        steps = {"collaborator": self.collaborator, "scan": self.scan_scenario,
                 "e2e": self.e2e, "p0": self.p0_scenario, "stock": self.stock_scenario,
                 "taps": self.taps_scenario}[self.args.scenario]()

        def tick(_dt: float) -> bool:
            try:
                next(steps)
            except StopIteration:
                self.result["ok"] = True
                self.app.stop()
                return False
            except Exception:
                self.result["ok"] = False
                self.result["error"] = traceback.format_exc()
                try:
                    self._save("failure")
                finally:
                    self.app.stop()
                return False
            return True

        Clock.schedule_interval(tick, 0.03)


def main() -> int:
    import faulthandler

    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=("collaborator", "scan", "e2e", "p0", "stock",
                                                   "taps"))
    parser.add_argument("--server", default="")
    parser.add_argument("--code")
    parser.add_argument("--pictures", type=Path, nargs="+",
                        help="scan these pictures, in turn, instead of typing the code")
    parser.add_argument("--pin", help="unlock a prepared device with this PIN")
    parser.add_argument("--household", default="1", help="taps: the household's number")
    parser.add_argument("--recipient", help="taps: who gets the pills, if not suggested")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=540)
    args = parser.parse_args()
    # a hang prints where it is stuck, then ends the process
    faulthandler.dump_traceback_later(args.timeout, exit=True, file=sys.__stderr__)
    args.shots.mkdir(parents=True, exist_ok=True)
    frames = PictureFrames(args.pictures) if args.pictures else None
    app = A0App(args.data, server=args.server, pin_from_stdin=args.pin,
                frame_source=(lambda: frames) if frames is not None else None)
    driver = Driver(app, args.shots, args, frames)
    app.bind(on_start=lambda *_: Clock.schedule_once(driver.run, 0.5))
    app.run()
    EventLoop.close()
    args.out.write_text(json.dumps(driver.result, ensure_ascii=False, indent=1), "utf-8")
    return 0 if driver.result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
