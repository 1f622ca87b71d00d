"""What every screen has: a top bar (title, sync state, back), a body, a foot of buttons.

A screen is rebuilt by :meth:`Screen.refresh` each time it is shown, so what it
says (``say``) lives exactly as long as the screen is on show.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivymd.uix.boxlayout import MDBoxLayout
from kivymd.uix.label import MDLabel
from kivymd.uix.screen import MDScreen

from a0core import vntime
from clients.kivy_app.core.clock import shown
from clients.kivy_app.core.outbox import PENDING, QUEUED, REJECTED, SENT, WAITING, counted
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.widgets import Dialog, TopBar, bar, text


class Screen(MDScreen):
    """One screen. Subclasses give ``name``, :meth:`heading`, :meth:`body`, :meth:`foot`."""

    back: str | None = None    # the screen the back arrow leads to
    shows_state = True         # whether the top bar says the sync state

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.params: dict[str, Any] = {}
        self.message: MDLabel | None = None

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def t(self, key: str, **params: Any) -> str:
        return self.app.t(key, **params)

    # ----------------------------------------------------------- drawing

    def refresh(self) -> None:
        if self.app.core.unlocked:  # "today" on this (the UI's) thread: the server's day
            vntime.correct(self.app.core.date_offset_ms())
        self.clear_widgets()
        root = MDBoxLayout(orientation="vertical")
        state, alert = sync_state(self.app) if self.shows_state else ("", False)
        self.topbar = TopBar(self.heading(), state, self.go_back if self.back else None,
                          self.actions(), alert)
        for name, widget in self.topbar.buttons.items():
            self.app.w[name] = widget
        root.add_widget(self.topbar)
        self.message = text("", "Body1", padding=(12, 4))
        self.app.w["message"] = self.message
        root.add_widget(self.message)
        root.add_widget(self.body())
        buttons = self.foot()
        if buttons:
            root.add_widget(bar(*buttons))
        self.add_widget(root)

    def heading(self) -> str:
        return self.app.core.area.get("name", "") if self.app.core.unlocked else ""

    def actions(self) -> list[tuple[str, str, Any]]:
        """Icons at the right of the top bar: (name, icon, action)."""
        return []

    def body(self) -> Any:
        raise NotImplementedError

    def foot(self) -> list[Any]:
        return []

    def go_back(self) -> None:
        self.app.go(self.back)

    def leave_or_ask(self, typed: bool, leave: Any) -> None:
        """Back (the arrow, «Huỷ», the phone's back key) from a screen where something may
        have been typed or chosen: asks «Bỏ những gì vừa nhập?» first, «Tiếp tục nhập»
        the big safe answer."""
        if not typed:
            leave()
            return
        dialog = Dialog(self.t("discard_title"), self.t("discard_words"),
                        self.t("keep_editing"), (self.t("discard"), leave))
        self.app.w.update({"discard.words": dialog.words, "discard.keep": dialog.ok,
                           "discard.leave": dialog.other})
        dialog.open()

    def say(self, words: str, error: bool = False) -> None:
        """A message on this screen (it goes with the screen)."""
        if self.message is not None:
            self.message.text = words
            self.message.theme_text_color = "Custom"
            self.message.text_color = theme.ERROR if error else theme.OK

    def on_leave(self, *args: Any) -> None:
        if self.message is not None:
            self.message.text = ""


def sync_state(app: Any) -> tuple[str, bool]:
    """The top bar's line about sync, and whether it needs attention: a phone clock off
    the server's, what is refused, offline, what has not left or has no answer (in the
    shared words of ``schemas/protocol/op_states.json``), else when the last sync went
    through."""
    core = app.core
    if not core.unlocked:
        return "", False
    counts = core.state_counts()
    last = core.last_sync()
    offline = last.get("error") == "network_unavailable"
    clock_off = core.clock_off() is not None
    parts = [app.t("state_clock")] if clock_off else []
    if counts.get(REJECTED):
        parts.append(counted(REJECTED, counts[REJECTED], app.lang))
    if offline:
        parts.append(app.t("state_offline"))
    parts += [counted(code, counts[code], app.lang)
              for code in (PENDING, QUEUED, SENT, WAITING) if counts.get(code)]
    if parts:
        return " · ".join(parts), bool(clock_off or counts.get(REJECTED) or offline)
    if last.get("at_ms") and last.get("error") is None:
        return app.t("state_synced", at=shown(last["at_ms"])), False
    if last.get("error"):
        return app.t("state_failed", at=shown(last["at_ms"])), True
    return app.t("state_never"), False


__all__ = ["Screen", "sync_state"]
