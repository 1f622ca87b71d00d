"""The collaborator's bag on the phone: stock on hand per method, offline.

The same ledger rule as the server's (:mod:`a0core.stock`), over the facts the phone
holds: the station's transfers to the area (pulled), the phone's confirmations,
receipts, returns, losses and counts, and its distributions. A transfer counts once
the phone confirmed it (what arrived, on the day it arrived). A method the phone has
no stock movement for is not tracked: its hand-outs are not checked (the commune
has not started the ledger).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from a0core import stock
from a0core.errors import message
from a0core.schemas import registry

Facts = Mapping[str, Mapping[str, Any]]


def movements(facts: Facts) -> list[stock.Movement]:
    """The stock movements and distributions among the phone's facts."""
    out: list[stock.Movement] = []
    confirms = []
    by_id: dict[str, stock.Movement] = {}
    for fid, f in facts.items():
        form = f["form"]
        if form == stock.CONFIRM:
            confirms.append(f)
        elif form in stock.STOCK_FORMS or form == stock.DISTRIBUTION:
            m = stock.movement(form, f["record"], stamp=(f.get("hlc", 0), f.get("device", "")),
                               voided=bool(f.get("voided")))
            by_id[fid] = m
            out.append(m)
    for f in confirms:
        target = by_id.get(f["record"]["transfer_id"])
        out.append(stock.movement(stock.CONFIRM, f["record"],
                                  stamp=(f.get("hlc", 0), f.get("device", "")),
                                  voided=bool(f.get("voided")), target=target))
    return out


def on_hand(facts: Facts, area: str) -> dict[str, int]:
    """The area's stock of each tracked method now."""
    return {method: ledger.balance() for (holder, method), ledger in
            stock.ledgers(stock.postings(movements(facts))).items()
            if holder == area and ledger.tracked}


def to_confirm(facts: Facts, area: str) -> list[Mapping[str, Any]]:
    """The station's transfers to the area the phone has not confirmed yet."""
    confirmed = {f["record"]["transfer_id"] for f in facts.values()
                 if f["form"] == stock.CONFIRM and not f.get("voided")}
    return [f["record"] for fid, f in facts.items()
            if f["form"] == stock.TRANSFER and not f.get("voided")
            and f["record"].get("area_code") == area and fid not in confirmed]


def in_list_order(held: Mapping[str, int]) -> list[tuple[str, int]]:
    """Balances in the code list's order (condoms, pills… as the forms offer them)."""
    rank = {c.code: i for i, c in enumerate(registry().codelist("contraceptive_method").codes)}
    return sorted(held.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def number(n: int, lang: str = "vi") -> str:
    """A whole number as a person reads it: 1.200 in Vietnamese, 1,200 in English."""
    shown = f"{n:,}"
    return shown.replace(",", ".") if lang == "vi" else shown


def names(method: str) -> dict[str, str]:
    """A method's name and unit in both languages, from the code lists (never the codes)."""
    code = registry().codelist("contraceptive_method").get(method)
    unit = registry().codelist("supply_unit").get(str(code.attrs.get("unit"))) if code else None
    return {"method_vi": code.vi if code else method, "method_en": code.en if code else method,
            "unit_vi": (unit.vi if unit else "").lower(), "unit_en": unit.en if unit else ""}


def amount(method: str, quantity: int, lang: str = "vi", sep: str = ": ") -> str:
    """«Bao cao su: 10 chiếc»."""
    said = names(method)
    return f"{said['method_' + lang]}{sep}{number(quantity, lang)} {said['unit_' + lang]}".rstrip()


def shortage(facts: Facts, area: str, method: str, quantity: int) -> tuple[str, str] | None:
    """(vi, en) refusing a hand-out of ``quantity`` beyond what is on hand, with the
    balance; None when it fits (or the method is not tracked)."""
    held = on_hand(facts, area)
    if method not in held or quantity <= held[method]:
        return None
    left = max(held[method], 0)
    vi, en = (message("stock_insufficient", lang, **names(method), on_hand=number(left, lang),
                      quantity=number(quantity, lang)) for lang in ("vi", "en"))
    return vi, en
