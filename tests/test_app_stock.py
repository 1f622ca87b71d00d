"""The phone's stock on hand and its refusal of a hand-out beyond it (issue 17), in
the app's core (no screen, no server): a pulled transfer counts once confirmed, a
distribution beyond the balance is refused offline with the balance shown, and
nothing is written."""

from __future__ import annotations

import uuid
from pathlib import Path

from clients.kivy_app.core.app import AppCore
from tests.test_app_core import AREA, add_household, device


def _pull_transfer(core: AppCore, quantity: int) -> str:
    tid = str(uuid.uuid4())
    page = {"server_hlc": 0, "verdicts": [], "cursor": 3, "more": False, "changes": [
        {"seq": 3, "kind": "stock", "id": tid, "data": {
            "form": "stock_transfer", "version": 1, "voided": False, "hlc": 5,
            "device": "server", "record": {
                "id": tid, "area_code": AREA["code"], "method": "condom",
                "quantity": quantity, "issued_on": "2026-02-01", "lot": "L7",
                "expiry": "2028-05-31"}}}]}
    with core.store.transaction():
        core.apply_page(page)
    return tid


def _hand_out(core: AppCore, hid: str, quantity: int, day: str = "2026-02-10"):
    return core.record_fact("distribution", {"method": "condom", "quantity": quantity,
                                             "distributed_on": day,
                                             "source": "free"},
                            context={"household_id": hid})


def test_stock_on_hand_and_over_stock_refused_offline(tmp_path: Path) -> None:
    core = device(tmp_path)
    hid = add_household(core)
    # not tracked yet: hand-outs are not checked (the commune has no ledger)
    assert core.stock_on_hand() == {} and _hand_out(core, hid, 3, "2026-01-20").ok
    tid = _pull_transfer(core, 50)
    assert [t["id"] for t in core.transfers_to_confirm()] == [tid]
    assert core.stock_on_hand() == {}  # not on hand until confirmed
    confirm = core.record_fact("stock_confirm", {"transfer_id": tid, "received_quantity": 48,
                                                 "received_on": "2026-02-02"}, context={})
    assert confirm.ok, confirm.errors
    assert confirm.op["type"] == "stock" and core.transfers_to_confirm() == []
    assert core.stock_on_hand() == {"condom": 48}  # the ledger starts in February
    assert _hand_out(core, hid, 20).ok
    assert core.stock_on_hand() == {"condom": 28}
    before = core.outbox_counts()
    refused = _hand_out(core, hid, 29)
    assert not refused.ok and refused.op is None
    vi, en = refused.errors["quantity"][0]
    assert "chỉ còn 28 chiếc" in vi and "only 28 piece on hand" in en and "29" in vi
    assert core.outbox_counts() == before and core.stock_on_hand() == {"condom": 28}
    loss = core.record_fact("stock_loss", {"method": "condom", "quantity": 8,
                                           "lost_on": "2026-02-11", "reason": "damaged"},
                            context={})
    assert loss.ok and loss.op["fields"]["area_code"] == AREA["code"]
    assert core.stock_on_hand() == {"condom": 20} and _hand_out(core, hid, 20).ok
    assert core.stock_on_hand() == {"condom": 0}
    # after a restart the store gives the same balance
    core.lock()
    core.unlock("482916")
    assert core.stock_on_hand() == {"condom": 0}
