"""Snackbars: a short result at the foot of the screen (imported when the first one
is shown, not at start)."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivymd.uix.label import MDLabel
from kivymd.uix.snackbar import MDSnackbar

from clients.kivy_app.ui import theme


class Snack(MDSnackbar):
    """A snackbar that never takes a tap meant for what lies under it (so it is no
    touch target, whatever its height while it slides in)."""

    touch_target = False

    def on_touch_down(self, touch: Any) -> bool:
        return False

    def on_touch_up(self, touch: Any) -> bool:
        return False


def snack(text: str, error: bool = False) -> Snack:
    label = MDLabel(text=text, theme_text_color="Custom", text_color=theme.WHITE,
                    font_style="Body1", adaptive_height=True)
    # above the foot's buttons, which stay free to tap
    shown = Snack(label, y=theme.ROW + dp(24), pos_hint={"center_x": 0.5}, size_hint_x=0.94,
                  duration=6, md_bg_color=theme.ERROR if error else (0.15, 0.15, 0.15, 1))
    shown.open()
    return shown
