"""One module per screen. :data:`SCREENS` names them for the app's screen manager,
which makes each the first time it is shown (a cold start builds two)."""

from clients.kivy_app.ui.screens.enrol import EnrolScreen
from clients.kivy_app.ui.screens.form import FormScreen
from clients.kivy_app.ui.screens.household import HouseholdScreen
from clients.kivy_app.ui.screens.households import HouseholdsScreen
from clients.kivy_app.ui.screens.member import MemberScreen
from clients.kivy_app.ui.screens.month import MonthScreen
from clients.kivy_app.ui.screens.scan import ScanScreen
from clients.kivy_app.ui.screens.settings import SettingsScreen
from clients.kivy_app.ui.screens.split import SplitScreen
from clients.kivy_app.ui.screens.stock import StockScreen
from clients.kivy_app.ui.screens.sync import SyncScreen
from clients.kivy_app.ui.screens.unlock import UnlockScreen

SCREENS = {"enrol": EnrolScreen, "scan": ScanScreen, "unlock": UnlockScreen,
           "households": HouseholdsScreen, "household": HouseholdScreen,
           "member": MemberScreen, "form": FormScreen, "sync": SyncScreen,
           "settings": SettingsScreen, "p0": MonthScreen, "split": SplitScreen,
           "stock": StockScreen}
