"""One module per screen. :data:`SCREENS` names them for the app's screen manager,
which makes each the first time it is shown (a cold start builds two).

A screen's module is imported when the screen is first made (:func:`screen_class`),
not when the app starts: a cold start imports the unlock screen and the household
list, and the forms, the sync screen and the rest wait until they are opened.
"""

from __future__ import annotations

import importlib
from typing import Any

SCREENS = {"enrol": "enrol:EnrolScreen", "scan": "scan:ScanScreen",
           "unlock": "unlock:UnlockScreen", "households": "households:HouseholdsScreen",
           "household": "household:HouseholdScreen", "member": "member:MemberScreen",
           "form": "form:FormScreen", "sync": "sync:SyncScreen",
           "settings": "settings:SettingsScreen", "p0": "month:MonthScreen",
           "split": "split:SplitScreen", "stock": "stock:StockScreen"}


def screen_class(name: str) -> Any:
    """The class of screen ``name``, its module imported now if it was not yet."""
    module, cls = SCREENS[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
