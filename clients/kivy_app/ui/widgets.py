"""Material widgets (KivyMD) sized for a thumb and read by an older collaborator.

Small pieces every screen uses: the top bar, big buttons, wrapped text, cards to
tap, chips. The inputs of forms are in :mod:`clients.kivy_app.ui.fields`. Touch
targets are at least :data:`~clients.kivy_app.ui.theme.TOUCH` high.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kivy.app import App
from kivy.core.text import Label as CoreLabel
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.modalview import ModalView
from kivymd.uix.boxlayout import MDBoxLayout
from kivymd.uix.button import MDIconButton, MDRaisedButton, MDRectangleFlatButton
from kivymd.uix.card import MDCard
from kivymd.uix.gridlayout import MDGridLayout
from kivymd.uix.label import MDLabel
from kivymd.uix.scrollview import MDScrollView

from clients.kivy_app.ui import theme
from clients.kivy_app.ui.texts import tr


def app() -> Any:
    return App.get_running_app()


def text(value: str, style: str = "Body1", color: Sequence[float] | None = None,
         bold: bool = False, **kw: Any) -> MDLabel:
    """A label that wraps to its width and grows to its text."""
    label = MDLabel(text=value, font_style=style, adaptive_height=True, bold=bold, **kw)
    if not value:
        label.height = 0  # until it has words: adaptive height follows the text's texture
    if color is not None:
        label.theme_text_color = "Custom"
        label.text_color = color
    return label


def button(label: str, on_press: Callable[[], Any], primary: bool = True,
           **kw: Any) -> MDRaisedButton | MDRectangleFlatButton:
    """A full-width button, 56 dp high at least: a long label wraps and the button grows
    (KivyMD's own label would run past the edge)."""
    cls = MDRaisedButton if primary else MDRectangleFlatButton
    widget = cls(text=label, size_hint=(kw.pop("size_hint_x", 1), None),
                 font_size=theme.text_size("Button", app().scale), **kw)
    widget._min_height = theme.ROW
    wrap(widget)
    widget.bind(on_release=lambda *_: on_press())
    return widget


def wrap(widget: Any, halign: str = "center") -> None:
    """Wrap a button's words to its width (its size hint decides it), growing it.

    KivyMD sizes a button to its words (size_hint_min_x): start them narrow, so the
    layout's share decides the width, then wrap them to it, less the padding (the width
    KivyMD derives from them is then the button's own: no resize loop)."""
    words = widget.ids.lbl_txt
    words.halign = halign
    words.text_size = (dp(48), None)
    widget.bind(width=lambda w, width: setattr(
        words, "text_size", (max(dp(48), width - w.padding[0] - w.padding[2]), None)))


class TapCard(MDCard):
    """A tappable card of wrapped lines (a person, a notice): long text never clips."""

    def __init__(self, title: str, detail: str, on_press: Callable[[], Any],
                 color: Sequence[float] | None = None, **kw: Any) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, padding=(dp(14), dp(10)),
                         spacing=dp(2), ripple_behavior=True, elevation=1, radius=[dp(8)],
                         **kw)
        self.words = f"{title}\n{detail}" if detail else title
        self.add_widget(text(title, "Subtitle1", color, bold=True))
        if detail:
            self.add_widget(text(detail, "Body2", color))
        self.bind(minimum_height=lambda _w, h: setattr(self, "height", max(theme.ROW, h)))
        self.height = max(theme.ROW, self.minimum_height)
        self.bind(on_release=lambda *_: on_press())


def icon_button(icon: str, on_press: Callable[[], Any], color: Sequence[float] | None = None,
                **kw: Any) -> MDIconButton:
    widget = MDIconButton(icon=icon, size_hint=(None, None), size=(theme.TOUCH, theme.TOUCH),
                          **kw)
    if color is not None:
        widget.theme_icon_color = "Custom"
        widget.icon_color = color
    widget.bind(on_release=lambda *_: on_press())
    return widget


def column(spacing: float = 10, padding: Any = (12, 8)) -> MDGridLayout:
    """A vertical run of widgets as tall as they are (spacing and padding in dp)."""
    pad = [dp(v) for v in padding] if isinstance(padding, tuple) else dp(padding)
    return MDGridLayout(cols=1, adaptive_height=True, spacing=dp(spacing), padding=pad)


def scroller(content: Any) -> MDScrollView:
    view = MDScrollView(do_scroll_x=False)
    view.add_widget(content)
    return view


def bar(*widgets: Any) -> MDBoxLayout:
    """A row of buttons at the foot of a screen, as high as its highest (wrapped) one."""
    box = MDBoxLayout(size_hint_y=None, height=theme.ROW + dp(16), spacing=dp(8),
                      padding=(dp(12), dp(8)))

    def fit(*_: Any) -> None:
        box.height = max([theme.ROW, *(w.height for w in widgets)]) + dp(16)

    for w in widgets:
        box.add_widget(w)
        w.bind(height=fit)
    return box


class TopBar(MDBoxLayout):
    """Area (or screen) title, the sync state under it, back and action buttons.

    Both lines wrap and the bar grows: at 360 dp and the larger text, a shortened
    line would cut the area's name or the time of the last sync."""

    def __init__(self, title: str, state: str, back: Callable[[], Any] | None,
                 actions: Sequence[tuple[str, str, Callable[[], Any]]], state_alert: bool = False,
                 **kw: Any) -> None:
        super().__init__(size_hint_y=None, height=dp(72), padding=(dp(4), dp(4)),
                         spacing=dp(2), md_bg_color=app().theme_cls.primary_color, **kw)
        self.buttons: dict[str, MDIconButton] = {}
        if back is not None:
            self.buttons["back"] = icon_button("arrow-left", back, theme.WHITE,
                                               pos_hint={"center_y": 0.5})
            self.add_widget(self.buttons["back"])
        words = MDBoxLayout(orientation="vertical", padding=(dp(8), dp(4)), adaptive_height=True,
                            pos_hint={"center_y": 0.5})
        self.title = text(title, "H6", theme.WHITE)
        self.state = text(state, "Body2", theme.ALERT_ON_PRIMARY if state_alert else theme.WHITE)
        words.add_widget(self.title)
        words.add_widget(self.state)
        words.bind(height=lambda _w, h: setattr(self, "height", max(dp(72), h + dp(8))))
        self.add_widget(words)
        for name, icon, action in actions:
            self.buttons[name] = icon_button(icon, action, theme.WHITE,
                                             pos_hint={"center_y": 0.5})
            self.add_widget(self.buttons[name])


class Chip(MDRectangleFlatButton):
    """One choice among a few: one tap picks it."""

    selected = BooleanProperty(False)
    code = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._min_height = self._min_width = theme.TOUCH
        self.font_size = theme.text_size("Body1", app().scale)
        words = CoreLabel(text=self.text, font_size=self.font_size)  # the default: Roboto
        if words.get_extents(self.text)[0] > Window.width - dp(72):
            self.size_hint = (1, None)  # a long name: a row of its own, its words wrapped
            wrap(self, "left")
        self.bind(selected=self._paint)
        self._paint()

    def _paint(self, *_: Any) -> None:
        primary = app().theme_cls.primary_color
        self.md_bg_color = primary if self.selected else (1, 1, 1, 1)
        self.text_color = theme.WHITE if self.selected else primary


class Dialog(ModalView):
    """Something to read before going on (a record saved with something to check), or a
    question: ``ok`` is the safe answer (it only closes); ``other`` the one that acts."""

    def __init__(self, title: str, words: str, ok: str,
                 other: tuple[str, Callable[[], Any]] | None = None, **kw: Any) -> None:
        super().__init__(size_hint=(0.92, None), auto_dismiss=True, **kw)
        card = MDCard(orientation="vertical", padding=dp(16), spacing=dp(12),
                      adaptive_height=True)
        card.bind(height=self.setter("height"))
        self.words = text(words)
        self.ok = button(ok, self.dismiss)
        for widget in (text(title, "H6"), self.words, self.ok):
            card.add_widget(widget)
        self.other: Any = None
        if other is not None:
            label, action = other
            self.other = button(label, lambda: (self.dismiss(), action()), primary=False)
            card.add_widget(self.other)
        self.add_widget(card)


def privacy(into: Any, name: str) -> None:
    """The short notice of what is collected and why (Law 91/2025/QH15): before
    enrolling, and always on the sync screen."""
    into.add_widget(text(tr("privacy_title", app().lang), "Subtitle1", bold=True))
    app().w[name] = notice = text(tr("privacy", app().lang), "Body2", theme.MUTED)
    into.add_widget(notice)
