"""A date picker in Vietnamese (or English), with 48 dp days and one tap to choose.

KivyMD 1.2's own picker takes its month and weekday names from the C locale (in
English on a phone whatever the language) and has small day cells. This one is
built from the same Material widgets: a month of days (a tap chooses and closes),
month and year steps, a list of years for birth dates, "today", and "year only"
where the form allows a year alone. Days after today are not offered where the
field refuses the future (every date field of the forms does).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import Any

from kivy.metrics import dp
from kivy.uix.modalview import ModalView
from kivymd.uix.boxlayout import MDBoxLayout
from kivymd.uix.button import MDFlatButton
from kivymd.uix.card import MDCard
from kivymd.uix.gridlayout import MDGridLayout

from a0core.vntime import today_vn
from clients.kivy_app.core import dates
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.fields import ChoiceList
from clients.kivy_app.ui.texts import tr
from clients.kivy_app.ui.widgets import app, button, icon_button, text

WEEKDAYS = {"vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"),
            "en": ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")}
FIRST_YEAR = 1900
ENGLISH_MONTHS = ("", "January", "February", "March", "April", "May", "June", "July",
                  "August", "September", "October", "November", "December")


class DatePicker(ModalView):
    def __init__(self, title: str, value: str | None, year_alone: bool,
                 on_pick: Callable[[str], Any], **kw: Any) -> None:
        # the whole width: seven 48 dp days need 344 dp, and a 360 dp phone has no more
        super().__init__(size_hint=(1, None), auto_dismiss=True, **kw)
        self.lang = app().lang
        self.title, self.year_alone, self.on_pick = title, year_alone, on_pick
        self.today = today_vn()
        start = self.today
        if value and len(value) == 10:
            start = dt.date.fromisoformat(value)
        elif value and len(value) == 4:
            start = dt.date(int(value), 1, 1)
        self.chosen = start if value else None
        self.year, self.month = start.year, start.month
        self.days: dict[int, MDFlatButton] = {}
        self.card = MDCard(orientation="vertical", padding=(dp(4), dp(8)), spacing=dp(4),
                           adaptive_height=True)
        self.card.bind(height=self.setter("height"))
        self.add_widget(self.card)
        self.draw()

    def draw(self) -> None:
        card, lang = self.card, self.lang
        card.clear_widgets()
        card.add_widget(text(self.title, "H6", padding=(dp(8), 0)))
        head = MDBoxLayout(size_hint_y=None, height=theme.TOUCH)
        head.add_widget(icon_button("chevron-left", lambda: self.step(-1)))
        self.heading = MDFlatButton(text=tr("month_year", lang, m=self.month, y=self.year,
                                            name=ENGLISH_MONTHS[self.month]),
                                    size_hint=(1, None), height=theme.TOUCH,
                                    font_size=theme.text_size("H6", app().scale))
        self.heading._min_height = theme.TOUCH
        self.heading.bind(on_release=lambda *_: self.pick_year())
        head.add_widget(self.heading)
        self.next = icon_button("chevron-right", lambda: self.step(1))
        self.next.disabled = (self.year, self.month) >= (self.today.year, self.today.month)
        head.add_widget(self.next)
        card.add_widget(head)
        grid = MDGridLayout(cols=7, size_hint_y=None, height=theme.TOUCH * 7, spacing=0)
        for name in WEEKDAYS[lang]:
            grid.add_widget(text(name, "Body2", theme.MUTED, halign="center"))
        self.days = {}
        for week in calendar.Calendar(0).monthdayscalendar(self.year, self.month):
            for day in week:
                cell = MDFlatButton(text=str(day) if day else "", size_hint=(1, None),
                                    height=theme.TOUCH,
                                    font_size=theme.text_size("Body1", app().scale))
                cell._min_height, cell._min_width = theme.TOUCH, 0  # seven to a row
                if day:
                    when = dt.date(self.year, self.month, day)
                    cell.disabled = when > self.today
                    if when == self.chosen:
                        cell.md_bg_color = app().theme_cls.primary_color
                        cell.text_color = theme.WHITE
                    elif when == self.today:
                        cell.line_color = app().theme_cls.primary_color
                    cell.bind(on_release=lambda _b, d=when: self.choose(d.isoformat()))
                    self.days[day] = cell
                else:
                    cell.disabled = True
                grid.add_widget(cell)
        card.add_widget(grid)
        foot = MDBoxLayout(size_hint_y=None, height=theme.ROW, spacing=dp(8))
        self.today_button = button(tr("today", lang), lambda: self.choose(
            self.today.isoformat()), primary=False)
        foot.add_widget(self.today_button)
        if self.year_alone:
            self.year_button = button(tr("year_only", lang, y=self.year),
                                      lambda: self.choose(str(self.year)), primary=False)
            foot.add_widget(self.year_button)
        card.add_widget(foot)

    def step(self, months: int) -> None:
        index = self.year * 12 + self.month - 1 + months
        self.year, self.month = divmod(index, 12)
        self.month += 1
        if (self.year, self.month) > (self.today.year, self.today.month):
            self.year, self.month = self.today.year, self.today.month
        self.draw()

    def pick_year(self) -> None:
        years = [(str(y), str(y)) for y in range(self.today.year, FIRST_YEAR - 1, -1)]
        ChoiceList(tr("choose_year", self.lang), years, self.set_year).open()

    def set_year(self, year: str) -> None:
        self.year = int(year)
        if (self.year, self.month) > (self.today.year, self.today.month):
            self.month = self.today.month
        self.draw()

    def choose(self, value: str) -> None:
        self.dismiss()
        self.on_pick(dates.show(value))
