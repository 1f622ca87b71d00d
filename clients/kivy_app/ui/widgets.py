"""Form inputs drawn from a :class:`~clients.kivy_app.core.formview.FieldView`.

Big touch targets (56 dp rows) for one-thumb use on small screens; code lists
become drop-down choices with their Vietnamese (or English) labels.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.checkbox import CheckBox
from kivy.uix.label import Label
from kivy.uix.spinner import Spinner, SpinnerOption
from kivy.uix.textinput import TextInput

from clients.kivy_app.core.formview import FieldView
from clients.kivy_app.ui.texts import tr

ROW = dp(56)
ERROR_COLOR = (0.85, 0.1, 0.1, 1)


class BigOption(SpinnerOption):
    """A drop-down choice tall enough for a thumb."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.height = ROW
        self.font_size = sp(17)


def wrapped(text: str, **kw: Any) -> Label:
    """A label that wraps to its width and grows to its text."""
    label = Label(text=text, size_hint_y=None, height=dp(28) if text else 0, halign="left",
                  valign="middle", font_size=kw.pop("font_size", sp(16)), **kw)
    label.bind(width=lambda w, v: setattr(w, "text_size", (v, None)),
               texture_size=lambda w, v: setattr(
                   w, "height", max(v[1] + dp(8), dp(28)) if w.text else 0))
    return label


class FieldInput(BoxLayout):
    """Label, input and the errors for one field."""

    def __init__(self, view: FieldView, lang: str, members: list[tuple[str, str]],
                 value: Any = None, **kw: Any) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, spacing=dp(2), **kw)
        self.view = view
        self.lang = lang
        star = " *" if view.required else ""
        self.add_widget(wrapped(view.label(lang) + star, bold=True))
        self.codes: list[str | None] = []
        if view.widget == "choice" or view.widget == "member":
            options = ([(c.code, c.label(lang)) for c in view.choices]
                       if view.widget == "choice" else members)
            none = tr("none_option", lang)
            self.codes = [None] + [code for code, _ in options]
            labels = [none] + [label for _, label in options]
            current = labels[self.codes.index(value)] if value in self.codes else none
            self.input = Spinner(text=current, values=labels, size_hint_y=None, height=ROW,
                                 font_size=sp(17), option_cls=BigOption)
        elif view.widget == "check":
            self.input = CheckBox(active=bool(value), size_hint_y=None, height=ROW)
        else:
            numeric = view.widget == "number"
            self.input = TextInput(text="" if value is None else str(value), multiline=False,
                                   size_hint_y=None, height=ROW, font_size=sp(18),
                                   hint_text=view.hint, write_tab=False,
                                   input_filter="int" if view.type == "integer" else None,
                                   input_type="number" if numeric else "text")
        self.add_widget(self.input)
        self.error = wrapped("", color=ERROR_COLOR, font_size=sp(14))
        self.error.opacity = 0
        self.add_widget(self.error)
        self.bind(minimum_height=self.setter("height"))

    def value(self) -> Any:
        if isinstance(self.input, Spinner):
            labels = list(self.input.values)
            return self.codes[labels.index(self.input.text)] if self.input.text in labels \
                else None
        if isinstance(self.input, CheckBox):
            return bool(self.input.active)
        return self.input.text

    def show_errors(self, messages: list[tuple[str, str]]) -> None:
        text = "\n".join(vi if self.lang == "vi" else en for vi, en in messages)
        self.error.text = text
        self.error.opacity = 1 if text else 0
        if not text:
            self.error.height = 0
