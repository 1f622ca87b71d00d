"""The area's households: search by number, address or any member's name; a tap opens
a household, the pill button beside it hands out contraceptives at once. At the foot,
the collaborator's stock and a new household.

The list is a RecycleView: only the rows on screen exist, so 500 households and
more scroll smoothly on a cheap phone.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.recycleview import RecycleView
from kivy.uix.recycleview.views import RecycleDataViewBehavior
from kivymd.uix.boxlayout import MDBoxLayout
from kivymd.uix.textfield import MDTextField

from clients.kivy_app.core.stock import number
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import button, text

KV = """
<HouseholdRow>:
    orientation: "horizontal"
    padding: dp(12), dp(4), dp(4), dp(4)
    canvas.before:
        Color:
            rgba: (0.85, 0.85, 0.85, 1)
        Rectangle:
            pos: self.x, self.y
            size: self.width, 1
    MDBoxLayout:
        id: words
        orientation: "vertical"
        size_hint_y: None
        height: self.minimum_height
        pos_hint: {"center_y": .5}
        MDLabel:
            id: title
            text: root.title
            font_style: "Subtitle1"
            bold: True
            adaptive_height: True
        MDLabel:
            id: subtitle
            text: root.subtitle
            font_style: "Body2"
            theme_text_color: "Secondary"
            adaptive_height: True
    MDIconButton:
        id: quick
        icon: "pill"
        size_hint: None, None
        size: dp(56), dp(56)
        pos_hint: {"center_y": .5}
        theme_icon_color: "Custom"
        icon_color: app.theme_cls.primary_color
        on_release: app.screen("households").hand_out(root.hid)

<HouseholdList>:
    viewclass: "HouseholdRow"
    RecycleBoxLayout:
        default_size_hint: 1, None
        size_hint_y: None
        height: self.minimum_height
        orientation: "vertical"
"""


class HouseholdRow(RecycleDataViewBehavior, MDBoxLayout):
    """One household in the list (a RecycleView view: reused as the list scrolls).

    Its words wrap rather than being cut (the head, the address and the number of
    people, whole at 360 dp and the larger text); a row that needs more than the
    usual height tells the list, which lays it out taller."""

    title = StringProperty("")
    subtitle = StringProperty("")
    hid = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.rv: RecycleView | None = None
        self.index = -1
        self.ids.words.bind(height=lambda *_: self.fit())

    def refresh_view_attrs(self, rv: RecycleView, index: int, data: dict[str, Any]) -> Any:
        self.rv, self.index = rv, index
        return super().refresh_view_attrs(rv, index, data)

    def fit(self) -> None:
        """The height the words need (at least the list's usual row) into the row's data."""
        rv, i = self.rv, self.index
        if rv is None or not 0 <= i < len(rv.data) or rv.data[i].get("hid") != self.hid:
            return
        usual = rv.layout_manager.default_size[1]
        needed = max(usual, self.ids.words.height + self.padding[1] + self.padding[3])
        if abs(rv.data[i].get("height", usual) - needed) > 1:
            rv.data[i] = {**rv.data[i], "height": needed}

    def on_touch_up(self, touch: Any) -> bool:
        if super().on_touch_up(touch) or self.ids.quick.collide_point(*touch.opos):
            return True  # the pill button's own tap
        if self.collide_point(*touch.pos) and touch.grab_current is None \
                and abs(touch.oy - touch.y) < dp(12):
            App.get_running_app().go("household", id=self.hid)
            return True
        return False


class HouseholdList(RecycleView):
    pass


class HouseholdsScreen(Screen):
    def __init__(self, **kw: Any) -> None:
        super().__init__(name="households", **kw)
        Builder.load_string(KV)

    def actions(self) -> list[tuple[str, str, Any]]:
        return [("list.p0", "calendar-check", lambda: self.app.go("p0")),
                ("list.sync", "sync", lambda: self.app.go("sync")),
                ("list.settings", "cog", lambda: self.app.go("settings", back="households"))]

    def body(self) -> Any:
        app = self.app
        box = MDBoxLayout(orientation="vertical", padding=(dp(8), 0), spacing=dp(4))
        self.search = MDTextField(mode="rectangle", hint_text=self.t("search"),
                                  icon_right="magnify", multiline=False,
                                  font_size=theme.text_size("Body1", app.scale))
        self.count = text("", "Body2", theme.MUTED)
        self.list = HouseholdList()
        self.list.layout_manager.default_size = (None, dp(76) * app.scale)
        app.w.update({"list.search": self.search, "list.count": self.count,
                      "list.rv": self.list})
        self.search.bind(text=lambda *_: self.fill())
        self.fill()
        for widget in (self.search, self.count, self.list):
            box.add_widget(widget)
        return box

    def fill(self) -> None:
        app = self.app
        rows = app.core.register.search(self.search.text)
        people = self.t("people")
        self.list.data = [{"title": f"{self.t('household_no', n=r.number)} · {r.head}",
                           "subtitle": f"{r.address} · {r.members}\u00a0{people}",  # kept whole
                           "hid": r.id}
                          for r in rows]
        self.count.text = self.t("households_count", n=number(len(rows), app.lang))
        if not rows and not self.search.text.strip():
            self.count.text += ". " + self.t("no_households")

    def foot(self) -> list[Any]:
        w = self.app.w
        # the bag, in words (a fourth icon would crowd the sync state off the top bar)
        w["list.stock"] = button(self.t("stock"), lambda: self.app.go("stock"), primary=False,
                                 size_hint_x=0.4)
        w["list.add"] = button(self.t("new_household"), lambda: self.app.go(
            "form", form="household", back=("households", {}), open_saved="household"),
            size_hint_x=0.6)
        return [w["list.stock"], w["list.add"]]

    def refresh(self) -> None:
        super().refresh()
        if self.app.report_ready:
            self.app.report_ready = False
            from kivy.clock import Clock

            Clock.schedule_once(lambda *_: print(
                f"A0APP-READY households={len(self.list.data)}", flush=True), 0)

    def hand_out(self, household_id: str) -> None:
        """Contraceptives for this household, its usual recipient and method filled in."""
        self.app.go("form", form="distribution", context={"household_id": household_id},
                    back=("households", {}))
