"""Split a household: some members go to a new household from a given day (a dated
change of household for each, the new household, its head), one unit of work in
the core (:meth:`AppCore.split_household`)."""

from __future__ import annotations

from typing import Any

from kivymd.uix.boxlayout import MDBoxLayout
from kivymd.uix.selectioncontrol import MDCheckbox

from a0core.errors import A0Error
from a0core.op_states import state_word
from clients.kivy_app.core import dates, suggest
from clients.kivy_app.core.formview import FieldView
from clients.kivy_app.core.outbox import PENDING
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.fields import FieldInput
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import button, column, scroller, text


class SplitScreen(Screen):
    back = "household"

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="split", **kw)
        self.chosen: list[str] = []  # in the order they were ticked: the first is the head

    def heading(self) -> str:
        return self.t("split_title")

    def go_back(self) -> None:
        """Back: the ticks, the number and the day are not dropped without asking."""
        typed = bool(self.chosen) or self.number.touched or self.day.touched
        self.leave_or_ask(typed, self.leave)

    def leave(self) -> None:
        self.app.go("household", id=self.params.get("id", ""))

    def body(self) -> Any:
        app, reg = self.app, self.app.core.register
        body = column()
        body.add_widget(text(self.t("split_hint")))
        self.chosen = []
        for m in reg.members_of(self.params.get("id", "")):
            row = MDBoxLayout(adaptive_height=True, spacing=8)
            box = MDCheckbox(size_hint=(None, None), size=(theme.TOUCH, theme.TOUCH))
            box.bind(active=lambda _b, on, mid=m.id: self.tick(mid, on))
            app.w[f"split.pick:{m.data.get('full_name', '')}"] = box
            row.add_widget(box)
            row.add_widget(text(m.data.get("full_name", ""), "Subtitle1",
                                pos_hint={"center_y": 0.5}))  # beside its box, not below
            body.add_widget(row)
        number = suggest.defaults(reg, "household", {})["number"]
        self.number = FieldInput(FieldView("number", "string", self.t("split_number"),
                                           self.t("split_number"), True), app.lang,
                                 value=number)
        self.day = FieldInput(FieldView("day", "date", self.t("split_date"),
                                        self.t("split_date"), True), app.lang,
                              value=app.core.today().isoformat())
        app.w.update({"split.number": self.number.input, "split.date": self.day.input})
        body.add_widget(self.number)
        body.add_widget(self.day)
        return scroller(body)

    def foot(self) -> list[Any]:
        app = self.app
        app.w["split.cancel"] = button(self.t("cancel"), self.go_back, primary=False,
                                       size_hint_x=0.4)
        app.w["split.save"] = button(self.t("split"), self.save, size_hint_x=0.6)
        return [app.w["split.cancel"], app.w["split.save"]]

    def tick(self, member_id: str, on: bool) -> None:
        if on and member_id not in self.chosen:
            self.chosen.append(member_id)
            self.say("")  # "choose someone" is answered
        elif not on and member_id in self.chosen:
            self.chosen.remove(member_id)

    def save(self) -> None:
        app, lang = self.app, self.app.lang
        day = dates.parse(self.day.value()) or self.day.value()
        try:
            result = app.core.split_household(self.params.get("id", ""), list(self.chosen),
                                              day, self.number.value().strip())
        except A0Error as error:
            self.say(error.vi if lang == "vi" else error.en, error=True)
            return
        if not result.ok:
            self.say("\n".join(vi if lang == "vi" else en for msgs in result.errors.values()
                               for vi, en in msgs), error=True)
            return
        app.go("household", id=result.id)
        app.snack(self.t("saved", state=state_word(PENDING, lang)))
