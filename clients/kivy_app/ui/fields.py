"""The inputs of a form: one per kind of field, and the searchable list of choices.

A choice among a few is a row of chips (one tap); among many, a button that opens
a searchable list. A date is typed day/month/year or picked on a calendar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kivy.metrics import dp
from kivy.uix.modalview import ModalView
from kivymd.uix.boxlayout import MDBoxLayout
from kivymd.uix.card import MDCard
from kivymd.uix.label import MDLabel
from kivymd.uix.selectioncontrol import MDCheckbox
from kivymd.uix.stacklayout import MDStackLayout
from kivymd.uix.textfield import MDTextField

from a0core.names import fold
from clients.kivy_app.core import dates
from clients.kivy_app.core.formview import FieldView, sentences
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.texts import tr
from clients.kivy_app.ui.widgets import Chip, app, button, column, icon_button, scroller, text

CHIPS_UP_TO = 6  # more choices than this open a list instead


class ChoiceList(ModalView):
    """A long list to choose from (ethnic groups, relations, members), searchable."""

    def __init__(self, title: str, options: Sequence[tuple[str, str]],
                 on_choose: Callable[[str], Any], **kw: Any) -> None:
        super().__init__(size_hint=(0.94, 0.9), auto_dismiss=True, **kw)
        self.options, self.on_choose = list(options), on_choose
        card = MDCard(orientation="vertical", padding=dp(8), spacing=dp(6))
        card.add_widget(text(title, "H6"))
        self.search: MDTextField | None = None
        if len(self.options) > 12:
            self.search = MDTextField(hint_text=tr("search_list", app().lang), mode="rectangle",
                                      font_size=theme.text_size("Body1", app().scale))
            self.search.bind(text=lambda *_: self.fill())
            card.add_widget(self.search)
        self.rows = column(spacing=4, padding=0)
        card.add_widget(scroller(self.rows))
        self.add_widget(card)
        self.buttons: dict[str, Any] = {}
        self.fill()

    def fill(self) -> None:
        wanted = fold(self.search.text if self.search else "").split()
        self.rows.clear_widgets()
        self.buttons = {}
        for code, label in self.options:
            if wanted and not all(w in fold(label) for w in wanted):
                continue
            row = button(label, lambda c=code: self.choose(c), primary=False)
            self.buttons[code] = row
            self.rows.add_widget(row)

    def choose(self, code: str) -> None:
        self.dismiss()
        self.on_choose(code)


class FieldInput(MDBoxLayout):
    """Label, input and messages for one form field.

    ``value()`` gives what the input holds (text as typed, a code, a member id, a
    bool); ``touched`` says whether the collaborator changed it (defaults then
    stop following the form).
    """

    def __init__(self, view: FieldView, lang: str, options: Sequence[tuple[str, str]] = (),
                 value: Any = None, on_change: Callable[[FieldInput], Any] | None = None,
                 **kw: Any) -> None:
        super().__init__(orientation="vertical", adaptive_height=True, spacing=dp(4), **kw)
        self.view, self.lang, self.on_change = view, lang, on_change
        self.touched = False
        self.options = list(options)
        self.code: str | None = None
        self.chips: dict[str, Chip] = {}
        star = " *" if view.required else ""
        self.add_widget(text(view.label(lang) + star, "Subtitle1", bold=True))
        self.input: Any
        kind = view.widget
        if kind in ("choice", "member", "place"):
            self.slot = MDBoxLayout(adaptive_height=True)
            self.add_widget(self.slot)
            self._choice(value)
        elif kind == "check":
            row = MDBoxLayout(adaptive_height=True)
            self.input = MDCheckbox(size_hint=(None, None), size=(theme.TOUCH, theme.TOUCH),
                                    active=bool(value))
            self.input.bind(active=lambda *_: self._changed())
            row.add_widget(self.input)
            self.add_widget(row)
        else:
            self._text(kind, value)
        help_text = view.help(lang)
        if kind == "date":  # the form's help says what, this says how
            help_text = sentences(help_text, tr(
                "date_or_year_hint" if view.type == "partial_date" else "date_hint", lang))
        if help_text:
            self.add_widget(text(help_text, "Body2", theme.MUTED))
        self.error: MDLabel | None = None  # made when there is something to say

    # ------------------------------------------------------------ kinds

    def _text(self, kind: str, value: Any) -> None:
        row = MDBoxLayout(adaptive_height=True, spacing=dp(4))
        numeric = kind == "number"
        shown = dates.show(value) if kind == "date" else ("" if value is None else str(value))
        self.input = MDTextField(mode="rectangle", multiline=False, write_tab=False,
                                 font_size=theme.text_size("Body1", app().scale),
                                 input_filter="int" if self.view.type == "integer" else None,
                                 input_type="number" if numeric else "text",
                                 hint_text=tr("date_format", self.lang) if kind == "date"
                                 else "")
        self.input.text_color_normal = self.input.text_color_focus = (0, 0, 0, 0.87)
        # set after creation: KivyMD 1.2 draws the hint over text given to the constructor
        self.input.text = shown
        self.input.bind(text=lambda *_: self._changed())
        row.add_widget(self.input)
        if kind == "date":
            self.picker = icon_button("calendar-month", self.pick_date)
            row.add_widget(self.picker)
        self.add_widget(row)

    def pick_date(self) -> None:
        from clients.kivy_app.ui.datepicker import DatePicker

        year_alone = self.view.type == "partial_date"
        DatePicker(self.view.label(self.lang), dates.parse(self.input.text, year_alone),
                   year_alone, self.set_text).open()

    def set_text(self, value: str) -> None:
        self.input.text = value
        self.touched = True

    def _choice(self, value: Any) -> None:
        if len(self.options) <= CHIPS_UP_TO:
            self.input = MDStackLayout(adaptive_height=True, spacing=dp(8))
            for code, label in self.options:
                chip = Chip(text=label, code=code)
                chip.bind(on_release=lambda c: self.pick(None if c.selected else c.code))
                self.chips[code] = chip
                self.input.add_widget(chip)
        else:
            self.input = button("", self.open_list, primary=False)
        self.slot.clear_widgets()
        self.slot.add_widget(self.input)
        self.set_code(value if value in dict(self.options) else None)

    def open_list(self) -> None:
        self.list = ChoiceList(self.view.label(self.lang), self.options, self.pick)
        self.list.open()

    def pick(self, code: str | None) -> None:
        self.set_code(code)
        self.touched = True
        self._changed()

    def set_code(self, code: str | None) -> None:
        self.code = code
        if self.chips:
            for c, chip in self.chips.items():
                chip.selected = c == code
        else:
            self.input.text = dict(self.options).get(code or "", tr("choose", self.lang))

    def set_options(self, options: Sequence[tuple[str, str]]) -> None:
        """New choices (a recipient changed what may be given); a choice gone is cleared."""
        keep = self.code if self.code in dict(options) else None
        self.options, self.chips = list(options), {}
        self._choice(keep)

    def _changed(self) -> None:
        if self.view.widget in ("text", "number", "date") and self.input.focus:
            self.touched = True
        if self.on_change is not None:
            self.on_change(self)

    # ------------------------------------------------------------ value

    def value(self) -> Any:
        if self.view.widget in ("choice", "member", "place"):
            return self.code
        if self.view.widget == "check":
            return bool(self.input.active)
        return self.input.text

    def set_default(self, value: Any) -> None:
        """A suggested value, unless the collaborator has already chosen or typed one."""
        if self.touched:
            return
        if self.view.widget in ("choice", "member", "place"):
            self.set_code(value if value in dict(self.options) else None)
        elif self.view.widget == "check":
            self.input.active = bool(value)
        else:
            self.input.text = dates.show(value) if self.view.widget == "date" else (
                "" if value is None else str(value))

    def show_errors(self, messages: Sequence[str]) -> None:
        if messages and self.error is None:
            self.error = text("", "Body2", theme.ERROR)
            self.add_widget(self.error)
        if self.error is not None:
            self.error.text = "\n".join(messages)

    @property
    def error_text(self) -> str:
        return self.error.text if self.error is not None else ""
