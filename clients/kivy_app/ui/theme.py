"""The look: KivyMD's Material theme, with text for an older collaborator.

Text is larger than Material's defaults to begin with, and the settings screen
makes it larger still (:data:`TEXT_SCALES`). Every touch target is at least 48 dp
(:data:`TOUCH`), main buttons and inputs 56 dp (:data:`ROW`). Sentence case on
buttons: Vietnamese in capitals is harder to read.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp

TOUCH = dp(48)
ROW = dp(56)
TEXT_SCALES = {"large": 1.0, "larger": 1.2}
PRIMARY = "Teal"
ERROR = (0.72, 0.11, 0.11, 1)
OK = (0.1, 0.45, 0.2, 1)
MUTED = (0.33, 0.33, 0.33, 1)
WHITE = (1, 1, 1, 1)
ALERT_ON_PRIMARY = (1, 0.93, 0.6, 1)  # on Teal 700: 4.5:1 (WCAG AA)

# KivyMD font style → size in sp at the "large" setting (Material's are 14–20)
SIZES = {"H5": 26, "H6": 22, "Subtitle1": 19, "Subtitle2": 18, "Body1": 18, "Body2": 17,
         "Button": 18, "Caption": 15, "Overline": 14}


def apply(theme_cls: Any, scale: float) -> None:
    """Palette and font sizes; screens built afterwards take them."""
    theme_cls.theme_style = "Light"
    theme_cls.primary_palette = PRIMARY
    theme_cls.primary_hue = "700"
    styles = dict(theme_cls.font_styles)
    for name, size in SIZES.items():
        font, _size, _caps, spacing = styles[name]
        styles[name] = [font, round(size * scale), False, min(spacing, 0.5)]
    theme_cls.font_styles = styles


def text_size(name: str, scale: float) -> float:
    """A font style's size in pixels, for widgets that take a ``font_size``."""
    return sp(SIZES[name] * scale)
