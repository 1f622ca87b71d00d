"""Language, text size, locking the phone's register, and who this phone works for."""

from __future__ import annotations

from typing import Any

from kivymd.uix.stacklayout import MDStackLayout

from clients.kivy_app.ui import theme
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import Chip, button, column, scroller, text

LANGUAGES = (("vi", "Tiếng Việt"), ("en", "English"))


class SettingsScreen(Screen):
    back = "households"  # the arrow shows; go_back says where it leads

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="settings", **kw)

    def heading(self) -> str:
        return self.t("settings")

    def go_back(self) -> None:
        self.app.go(self.params.get("back") or "households")

    def body(self) -> Any:
        app = self.app
        body = column()
        body.add_widget(text(self.t("language"), "H6"))
        body.add_widget(self.chips("lang", LANGUAGES, app.lang, lambda v: app.set_pref(lang=v)))
        body.add_widget(text(self.t("text_size"), "H6"))
        sizes = [(k, self.t(f"text_{k}")) for k in theme.TEXT_SCALES]
        body.add_widget(self.chips("text", sizes, app.prefs.get("text", "large"),
                                   lambda v: app.set_pref(text=v)))
        body.add_widget(text(self.t("text_sample"), "Body1"))
        core = app.core
        if core.unlocked:
            body.add_widget(text(self.t("this_phone"), "H6"))
            body.add_widget(text(self.t("works_for", name=core.collaborator.get("full_name", ""),
                                        area=core.area.get("name", ""))))
            app.w["settings.lock"] = button(self.t("lock"), app.lock, primary=False)
            body.add_widget(app.w["settings.lock"])
        return scroller(body)

    def chips(self, name: str, options: Any, current: str, choose: Any) -> MDStackLayout:
        row = MDStackLayout(adaptive_height=True, spacing=8)
        for code, label in options:
            chip = Chip(text=label, code=code, selected=code == current)
            chip.bind(on_release=lambda c: choose(c.code))
            self.app.w[f"settings.{name}.{code}"] = chip
            row.add_widget(chip)
        return row
