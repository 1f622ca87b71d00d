"""Drive the real app, in its own process under Xvfb, as a collaborator would.

Run by tests/test_app_ui.py: ``python -m tests.support.app_driver --server URL
--code CODE --data DIR --shots DIR --out result.json``, or with ``--pictures A.png
B.png`` instead of ``--code`` to scan the enrolment QR code (:class:`PictureFrames`
hands the pictures to the scan screen in place of a camera). It starts the real
:class:`~clients.kivy_app.ui.app.A0App` (real SDL2 window on the X server) and,
from inside Kivy's event loop, sends real touch events (press/release through
``EventLoop.post_dispatch_input``, like the window's own input providers) and
keyboard text (``Window.on_textinput``) — enrol → add a household → add its head
→ record a birth → sync — saving a screenshot after each step. What it saw is
written as JSON for the test to check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from kivy.config import Config

Config.set("graphics", "width", "400")
Config.set("graphics", "height", "760")
Config.set("input", "mouse", "mouse,disable_multitouch")

from kivy.base import EventLoop  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import Label as CoreLabel  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402
from kivy.uix.image import Image  # noqa: E402
from kivy.uix.scrollview import ScrollView  # noqa: E402
from kivy.uix.spinner import Spinner  # noqa: E402

from a0core.schemas import registry  # noqa: E402
from clients.kivy_app.core.qrscan import grey_plane  # noqa: E402
from clients.kivy_app.ui.app import A0App  # noqa: E402
from clients.kivy_app.ui.scan import TextureFrames  # noqa: E402

PIN = "314159"


def label_of(codelist: str, code: str) -> str:
    found = registry().codelist(codelist).get(code)
    assert found is not None, code
    return found.vi


def diacritics_render() -> dict[str, bool]:
    """Each Vietnamese letter draws differently from its bare letter and from a glyph
    the font lacks (a missing glyph would draw the same empty box for all)."""
    def pixels(text: str) -> bytes:
        label = CoreLabel(text=text, font_size=40)
        label.refresh()
        return bytes(label.texture.pixels)

    missing = pixels("\u0fff")
    out = {}
    for letter, bare in zip("ăâđêôơưạảãáàệễộữỹ", "aadeoouaaaaaeeouy", strict=True):
        mine = pixels(letter)
        out[letter] = mine != pixels(bare) and mine != missing
    return out


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


class Driver:
    def __init__(self, app: A0App, shots: Path, code: str | None,
                 frames: PictureFrames | None = None) -> None:
        self.app = app
        self.shots = shots
        self.code = code
        self.frames = frames
        self.result: dict[str, Any] = {"steps": [], "shots": []}
        self.n = 0

    # -------------------------------------------------------------- input

    def reveal(self, widget: Any) -> None:
        parent = widget.parent
        for _ in range(50):  # the window is its own parent: walk a bounded way up
            if parent is None or isinstance(parent, ScrollView) or parent is parent.parent:
                break
            parent = parent.parent
        if isinstance(parent, ScrollView):
            parent.scroll_to(widget, padding=40, animate=False)

    def tap(self, widget: Any) -> None:
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def type(self, text: str) -> None:
        Window.dispatch("on_textinput", text)

    def shot(self, name: str) -> Iterator[None]:
        for _ in range(4):  # let the screen switch finish and a frame be drawn
            yield
        self._save(name)

    def _save(self, name: str) -> None:
        self.n += 1
        path = Window.screenshot(name=str(self.shots / f"{self.n:02d}-{name}.png"))
        self.result["shots"].append(path)

    def step(self, name: str) -> None:
        self.result["steps"].append(name)
        print(f"driver: {name}", file=sys.__stderr__, flush=True)

    # ---------------------------------------------------------- scenario

    def until(self, check: Callable[[], bool], timeout: float = 20.0) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s; screen {self.app.sm.current}")
            yield

    def fill(self, name: str, text: str) -> Iterator[None]:
        field = self.app.w[name]
        target = field.input if hasattr(field, "input") else field
        self.reveal(target)
        yield
        self.tap(target)
        yield
        assert target.focus, f"{name} did not take focus"
        self.type(text)
        yield

    def choose(self, name: str, label: str) -> Iterator[None]:
        spinner: Spinner = self.app.w[name].input
        self.reveal(spinner)
        yield
        self.tap(spinner)
        yield from self.until(lambda: spinner.is_open)
        yield
        option = next(b for b in spinner._dropdown.container.children if b.text == label)
        spinner._dropdown.scroll_to(option, animate=False)
        yield
        yield
        self.tap(option)
        yield from self.until(lambda: spinner.text == label)
        # the drop-down leaves the window a moment later; until then it takes every touch
        yield from self.until(lambda: spinner._dropdown.parent is None)

    def press(self, name: str) -> Iterator[None]:
        widget = self.app.w[name]
        self.reveal(widget)
        yield
        self.tap(widget)
        yield

    def scan_scenario(self) -> Iterator[None]:
        """Enrol by scanning: a foreign QR code is refused with its reason, the
        enrolment QR code fills server and code, the collaborator adds a PIN."""
        app, frames = self.app, self.frames
        assert frames is not None
        yield from self.until(lambda: app.sm.current == "enrol")
        self.result["server_before"] = app.w["enrol.server"].text
        frames.show(0)
        yield from self.shot("enrol-with-scan")
        yield from self.press("enrol.scan")
        yield from self.until(lambda: app.sm.current == "scan")
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
        yield from self.until(lambda: app.sm.current == "enrol")
        self.result["scan_s"] = time.monotonic() - started
        self.result["frames_while_scanning"] = len(frames.given) - given_before
        self.step("scanned")
        self.result["filled"] = {"server": app.w["enrol.server"].text,
                                 "code": app.w["enrol.code"].text}
        self.result["message"] = app.w["enrol.message"].text
        yield from self.shot("enrol-scanned")
        yield from self.fill("enrol.pin", PIN)
        yield from self.fill("enrol.pin2", PIN)
        yield from self.press("enrol.submit")
        yield from self.until(lambda: app.sm.current == "households", 30)
        self.step("enrolled")
        self.result["area"] = app.core.area
        yield from self.shot("households")

    def scenario(self) -> Iterator[None]:
        app = self.app
        yield from self.until(lambda: app.sm.current == "enrol")
        self.result["scan_offered"] = "enrol.scan" in app.w
        self.result["diacritics"] = diacritics_render()
        yield from self.shot("enrol")
        yield from self.fill("enrol.code", self.code)
        yield from self.fill("enrol.pin", PIN)
        yield from self.fill("enrol.pin2", PIN)
        yield from self.shot("enrol-filled")
        yield from self.press("enrol.submit")
        yield from self.until(lambda: app.sm.current == "households", 30)
        self.step("enrolled")
        yield from self.shot("households")

        yield from self.press("list.add")
        yield from self.until(lambda: app.sm.current == "form")
        yield from self.fill("form.number", "15")
        yield from self.fill("form.address", "Xóm Giữa, thôn Đông Hồ")
        yield from self.shot("household-form")
        yield from self.press("form.save")
        yield from self.until(lambda: app.sm.current == "household")
        self.step("household added")

        yield from self.press("household.add_member")
        yield from self.until(lambda: app.sm.current == "form")
        yield from self.fill("form.full_name", "Đỗ Thị Ngọc Ánh")
        yield from self.choose("form.relation", label_of("relation", "head"))
        yield from self.choose("form.sex", label_of("sex", "female"))
        yield from self.fill("form.birth_date", "1994-07-21")
        yield from self.choose("form.ethnicity", label_of("ethnicity", "kinh"))
        yield from self.choose("form.marital_status", label_of("marital_status", "married"))
        yield from self.choose("form.residence_status", label_of("residence_status", "present"))
        yield from self.shot("member-form")
        yield from self.press("form.save")
        yield from self.until(lambda: app.sm.current == "household")
        self.step("member added")
        yield from self.shot("household-card")

        yield from self.press("member:Đỗ Thị Ngọc Ánh")
        yield from self.until(lambda: app.sm.current == "member")
        yield from self.press("event:birth")
        yield from self.until(lambda: app.sm.current == "form")
        # a first save with nothing typed shows the server's own messages beside the fields
        yield from self.press("form.save")
        self.result["empty_birth_errors"] = app.w["form.event_date"].error.text
        yield from self.shot("birth-errors")
        yield from self.fill("form.event_date", "2026-02-10")
        yield from self.fill("form.child_name", "Đỗ Minh Khôi")
        yield from self.choose("form.sex", label_of("sex", "male"))
        yield from self.fill("form.birth_order", "1")
        yield from self.choose("form.place_of_birth", label_of("place_of_birth", "hospital"))
        yield from self.shot("birth-form")
        yield from self.press("form.save")
        yield from self.until(lambda: app.sm.current == "member")
        self.step("birth recorded")
        yield from self.press("back")
        yield from self.until(lambda: app.sm.current == "household")
        self.result["members_shown"] = sorted(k[7:] for k in app.w if k.startswith("member:")
                                              and app.w[k].get_root_window() is not None)
        yield from self.shot("household-with-child")

        app.show_households()
        yield
        yield from self.press("list.sync")
        yield from self.until(lambda: app.sm.current == "sync")
        yield from self.shot("sync-before")
        yield from self.press("sync.now")
        yield from self.until(lambda: not app.busy and app.sm.current == "sync"
                              and "pending" not in app.core.outbox_counts()
                              and "sent" not in app.core.outbox_counts(), 60)
        yield
        self.step("synced")
        self.result["outbox"] = app.core.outbox_counts()
        self.result["sync_summary"] = app.w["sync.summary"].text
        self.result["message"] = app.last_message
        yield from self.shot("sync-after")

        app.show_households()
        yield
        yield from self.fill("list.search", "ngoc anh")
        yield
        self.result["search"] = [d["title"] for d in app.w["list.rv"].data]
        self.result["household_ids"] = [d["hid"] for d in app.w["list.rv"].data]
        yield from self.shot("search")

    def run(self, *_: Any) -> None:
        steps = self.scan_scenario() if self.frames is not None else self.scenario()

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

    # a hang prints where it is stuck, then ends the process
    faulthandler.dump_traceback_later(110, exit=True, file=sys.__stderr__)
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--code")
    parser.add_argument("--pictures", type=Path, nargs="+",
                        help="scan these pictures, in turn, instead of typing the code")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    frames = PictureFrames(args.pictures) if args.pictures else None
    app = A0App(args.data, server=args.server,
                frame_source=(lambda: frames) if frames is not None else None)
    driver = Driver(app, args.shots, args.code, frames)
    app.bind(on_start=lambda *_: Clock.schedule_once(driver.run, 0.5))
    app.run()
    EventLoop.close()
    args.out.write_text(json.dumps(driver.result, ensure_ascii=False, indent=1), "utf-8")
    return 0 if driver.result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
