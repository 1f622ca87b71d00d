"""The monthly close: the P0 slip of a month, section by section, closed here and
sent like any change; whether the server holds it, and whether its counts match.

Built on the core's monthly close (:meth:`AppCore.slip_months`,
:meth:`AppCore.close_month`, :mod:`clients.kivy_app.core.monthly`): the months to
close (the last one that has ended first), each with its state; the chosen
month's entries by section, named as on the slip; and «Nộp phiếu P0 tháng …»,
a nil report when the month had none.
"""

from __future__ import annotations

from typing import Any

from a0core.errors import A0Error
from a0core.p0 import section_labels, vietnamese_month
from clients.kivy_app.core.stock import number
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import TapCard, button, column, scroller, text


class MonthScreen(Screen):
    back = "households"

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="p0", **kw)

    def heading(self) -> str:
        return self.t("p0_title")

    def body(self) -> Any:
        app = self.app
        views = app.core.slip_months()
        self.chosen = next((v for v in views if v.month == self.params.get("month")), views[0])
        body = column()
        for view in views:
            shown = vietnamese_month(view.month)
            card = TapCard(self.t("p0_month", month=shown, state=view.words(app.lang)), "",
                           lambda m=view.month: app.go("p0", month=m),
                           app.theme_cls.primary_color if view is self.chosen else None)
            app.w[f"p0.month:{view.month}"] = card
            body.add_widget(card)
        body.add_widget(text(self.t("p0_entries", month=vietnamese_month(self.chosen.month)),
                             "H6"))
        labels = section_labels(app.lang)
        for name, count in self.chosen.counts.items():
            body.add_widget(text(f"{labels.get(name, name)}: {number(count, app.lang)}",
                                 color=None if count else theme.MUTED))
        app.w["p0.status"] = status = text(self.chosen.words(app.lang), "Subtitle1", bold=True)
        body.add_widget(status)
        return scroller(body)

    def foot(self) -> list[Any]:
        chosen = self.chosen
        close = button(chosen.title(self.app.lang) if chosen.may_close else self.t("p0_done"),
                       lambda: self.close(chosen.month))
        close.disabled = not chosen.may_close
        self.app.w["p0.close"] = close
        return [close]

    def close(self, month: str) -> None:
        """Close the month's slip as this phone holds it; it goes with the next sync."""
        try:
            result = self.app.core.close_month(month)
        except A0Error as error:
            self.say(error.vi if self.app.lang == "vi" else error.en, error=True)
            return
        if not result.ok:
            self.say("; ".join(vi if self.app.lang == "vi" else en
                               for msgs in result.errors.values() for vi, en in msgs),
                     error=True)
            return
        self.app.go("p0", month=month)
        self.app.snack(self.t("p0_closed", month=vietnamese_month(month)))
