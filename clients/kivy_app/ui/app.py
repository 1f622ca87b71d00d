"""The collaborator's app: KivyMD screens over :class:`~clients.kivy_app.core.app.AppCore`.

One module per screen under ``ui/screens/``; this class only starts the app,
keeps what every screen shares (the core, the language, the text size, the
running sync) and moves between screens. A screen is rebuilt from the core's
state each time it is shown, and its messages go with it: nothing said on one
screen is still there on the next. Widgets that tests address are named in
``self.w``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivymd.app import MDApp

from clients.kivy_app.core.app import AppCore
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.scan import FrameSource, Scanner
from clients.kivy_app.ui.screens import screen_class
from clients.kivy_app.ui.texts import tr

PREFS_FILE = "a0sync-ui.json"  # language and text size: chosen before the PIN, not secret


class A0App(MDApp):
    """The app. ``core`` does the work; :meth:`go` shows a screen."""

    title = "Sổ A0 điện tử"

    def __init__(self, data_dir: Path | None, server: str = "", lang: str | None = None,
                 pin_from_stdin: str | None = None, report_ready: bool = False,
                 frame_source: Callable[[], FrameSource] | None = None, **kw: Any) -> None:
        """``frame_source`` makes the scan screen's frames (default: the camera, where
        one exists); tests hand real pictures through it."""
        super().__init__(**kw)
        self.core = AppCore(data_dir or Path(self.user_data_dir))
        self.prefs = self._load_prefs()
        self.lang = lang or self.prefs.get("lang", "vi")
        self.scale = theme.TEXT_SCALES.get(self.prefs.get("text", "large"), 1.0)
        self.server = server
        self.pin_from_stdin = pin_from_stdin
        self.report_ready = report_ready
        self.frame_source = frame_source
        self.scanner: Scanner | None = None
        self.w: dict[str, Any] = {}
        self.busy = False
        self.snackbar: Any = None
        self.said = ""  # the last snackbar's words, for tests and screen readers

    def t(self, key: str, **params: Any) -> str:
        return tr(key, self.lang, **params)

    # ------------------------------------------------------------- start

    def build(self) -> ScreenManager:
        theme.apply(self.theme_cls, self.scale)
        # Kivy's manager: KivyMD's imposes a sliding transition, and on a cheap phone a
        # screen that slides is a screen that lags
        self.sm = ScreenManager(transition=NoTransition())
        Window.bind(on_keyboard=self.on_back_key)
        if not self.core.enrolled:
            self.go("enrol")
        elif self.pin_from_stdin:
            self.screen("unlock").unlock(self.pin_from_stdin)
        else:
            self.go("unlock")
        return self.sm

    def screen(self, name: str) -> Any:
        """Screen ``name``, made the first time it is asked for."""
        if not self.sm.has_screen(name):
            self.sm.add_widget(screen_class(name)())
        return self.sm.get_screen(name)

    def go(self, name: str, **params: Any) -> None:
        """Show screen ``name`` built afresh (``params`` say what it shows)."""
        self.hush()
        target = self.screen(name)
        target.params = params
        target.refresh()
        self.sm.current = name

    def redraw(self) -> None:
        """The current screen again (a new language or text size)."""
        current = self.screen(self.sm.current)
        current.refresh()

    def on_back_key(self, _window: Any, key: int, *_: Any) -> bool:
        """The phone's back key (27): closes an open dialog or list, else goes back as
        the screen's arrow does (a form asks before dropping what was typed). Kivy's own
        handling would put the app in the background from any screen, and Android may
        then end it; it is kept for the screens with nowhere to go back to."""
        if key != 27:
            return False
        modal = next((w for w in Window.children if isinstance(w, ModalView)), None)
        if modal is not None:
            modal.dismiss()
            return True
        screen = self.sm.current_screen
        if screen is None or screen.back is None:
            return False
        screen.go_back()
        return True

    # ---------------------------------------------------------- settings

    def _load_prefs(self) -> dict[str, Any]:
        try:
            return json.loads((self.core.data_dir / PREFS_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def set_pref(self, **values: Any) -> None:
        self.prefs.update(values)
        self.core.data_dir.mkdir(parents=True, exist_ok=True)
        (self.core.data_dir / PREFS_FILE).write_text(json.dumps(self.prefs), "utf-8")
        self.lang = self.prefs.get("lang", self.lang)
        self.scale = theme.TEXT_SCALES.get(self.prefs.get("text", "large"), 1.0)
        theme.apply(self.theme_cls, self.scale)
        self.redraw()

    # ---------------------------------------------------------- messages

    def snack(self, text: str, error: bool = False) -> None:
        """A short result at the foot of the screen; it goes when the screen goes."""
        from clients.kivy_app.ui.snack import snack

        self.hush()
        self.snackbar = snack(text, error)
        self.said = text

    def hush(self) -> None:
        if self.snackbar is not None:
            self.snackbar.dismiss()
            if self.snackbar.parent is not None:
                self.snackbar.parent.remove_widget(self.snackbar)
            self.snackbar = None
        self.said = ""

    # -------------------------------------------------------- background

    def in_background(self, work: Callable[[], Any], done: Callable[[Any], Any]) -> bool:
        """Run ``work`` off the UI thread, then ``done(result)`` on it; False if busy."""
        if self.busy:
            return False
        self.busy = True

        def run() -> None:
            result = work()

            def finish(*_: Any) -> None:
                self.busy = False
                done(result)

            Clock.schedule_once(finish)

        threading.Thread(target=run, daemon=True).start()
        return True

    # ---------------------------------------------------------- lifecycle

    def lock(self) -> None:
        self.core.lock()
        self.go("unlock")

    def stop_scanning(self) -> None:
        if self.scanner is not None:
            self.scanner.stop()
            self.scanner = None

    def on_pause(self) -> bool:
        """Android: let go of the camera while the app is in the background."""
        if self.scanner is not None:
            self.stop_scanning()
            self.go("enrol")
        return True

    def on_stop(self) -> None:
        self.stop_scanning()
