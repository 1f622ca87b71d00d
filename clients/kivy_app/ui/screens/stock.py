"""The collaborator's bag: what is on hand per method, the station's issues waiting
for confirmation, and the stock forms the phone records itself.

Figures are the core's (:meth:`AppCore.stock_on_hand`,
:meth:`AppCore.transfers_to_confirm`, :mod:`clients.kivy_app.core.stock`), method
and unit names come from the code lists. A tap on an issue opens its
confirmation with the quantity issued filled in; the buttons open the forms of
``schemas/`` a collaborator records (``a0core.stock.DEVICE_FORMS``): what arrived
from another supplier, a return to the station, a loss, a count. Each comes back
here, so the new balance is seen at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from a0core import stock
from clients.kivy_app.core import dates
from clients.kivy_app.core import stock as bag
from clients.kivy_app.core.formview import FormView
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import TapCard, button, column, scroller, text

# what the collaborator records from this screen (a confirmation: from its issue)
FORMS = tuple(f for f in stock.DEVICE_FORMS if f != stock.CONFIRM)


class StockScreen(Screen):
    back = "households"

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="stock", **kw)

    def heading(self) -> str:
        return self.t("stock_title")

    def body(self) -> Any:
        app = self.app
        body = column()
        body.add_widget(text(self.t("stock_held"), "H6"))
        held = bag.in_list_order(app.core.stock_on_hand())
        for method, n in held:
            app.w[f"stock.held:{method}"] = line = text(
                bag.amount(method, n, app.lang), "Subtitle1", theme.ERROR if n <= 0 else None,
                bold=True)
            body.add_widget(line)
        if not held:
            body.add_widget(text(self.t("stock_none"), "Body2", theme.MUTED))
        waiting = app.core.transfers_to_confirm()
        if waiting:
            body.add_widget(text(self.t("stock_to_confirm"), "H6"))
        for issue in sorted(waiting, key=lambda r: r.get("issued_on", "")):
            card = TapCard(bag.amount(issue["method"], issue["quantity"], app.lang),
                           self.issued(issue), lambda r=issue: self.confirm(r))
            app.w[f"stock.confirm:{issue['id']}"] = card
            body.add_widget(card)
        body.add_widget(text(self.t("stock_record"), "H6"))
        for form_id in FORMS:
            app.w[f"stock.{form_id}"] = action = button(
                FormView(form_id).title(app.lang), lambda f=form_id: self.open(f),
                primary=form_id == stock.RECEIPT)
            body.add_widget(action)
        return scroller(body)

    def issued(self, issue: Mapping[str, Any]) -> str:
        """«Trạm cấp ngày 01/02/2026 · lô L7 · hạn dùng 31/05/2028»."""
        parts = [self.t("stock_issued", day=dates.show(issue.get("issued_on")))]
        if issue.get("lot"):
            parts.append(self.t("stock_lot", lot=issue["lot"]))
        if issue.get("expiry"):
            parts.append(self.t("stock_expiry", day=dates.show(issue["expiry"])))
        return " · ".join(parts)

    def open(self, form_id: str) -> None:
        self.app.go("form", form=form_id, context={"area_code": self.app.core.area["code"]},
                    back=("stock", {}))

    def confirm(self, issue: Mapping[str, Any]) -> None:
        """What arrived of a station's issue: the quantity issued, unless it differs."""
        lead = f"{bag.amount(issue['method'], issue['quantity'], self.app.lang)}\n" \
               f"{self.issued(issue)}"
        self.app.go("form", form=stock.CONFIRM, context={"transfer_id": issue["id"]},
                    lead=lead, back=("stock", {}))
