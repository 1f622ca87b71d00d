"""What the station should look at: stock alerts, kept in step with the ledger.

The after-batch hook (and the station's own writes) call :func:`refresh` for the
holders a change touched; it reads their ledgers again and makes the open alerts
match, so it may run twice, in any order, with the same result:

* ``stock_negative``: a holder's balance of a method ended a day below zero — the
  first such day, and the movement of that day that took stock out. Movements
  arrive in any order and are applied all the same (a hand-out recorded offline
  before the phone pulled its transfer is not the collaborator's mistake); the
  alert clears itself when what was missing arrives. Another first day or movement
  is another alert.
* ``stock_confirm_mismatch``: a transfer or return confirmed with another quantity
  than was sent; ``stock_confirm_voided``: confirmed although the sender withdrew it.

Staff mark an alert reviewed (with a note); a reviewed alert stays as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from a0core import stock
from a0core.errors import A0Error
from server.logistics import balances
from server.models.base import utcnow
from server.models.logistics import CLEARED, OPEN, REVIEWED, StockFlag

NEGATIVE = "stock_negative"
MISMATCH, VOIDED = balances.MISMATCH, balances.VOIDED
Key = tuple[str, str, str, str]  # area ("" for the station), method, code, movement


def refresh(session: Session, *, areas: Mapping[str, balances.Computed] | None = None,
            stations: Mapping[str, balances.Computed] | None = None) -> None:
    """Make the alerts of these collaborators and stations match their ledgers, just
    computed (:mod:`server.logistics.balances`, in the caller's transaction): the first
    day below zero from the stored months; a station's confirmations of the transfers
    and returns from the first month computed (a confirmation reaches back to its
    transfer's month, so the others are as they were)."""
    if areas:
        negatives = balances.first_negatives(session, balances.CTV, list(areas))
        for area, done in areas.items():
            _match(session, done, area, (NEGATIVE,), _negatives(negatives.get(area, {}), area))
    if stations:
        negatives = balances.first_negatives(session, balances.STATION, list(stations))
        for commune, done in stations.items():
            _match(session, done, stock.STATION, (NEGATIVE,),
                   _negatives(negatives.get(commune, {}), stock.STATION))
            _match(session, done, None, (MISMATCH, VOIDED), dict(done.confirm_flags),
                   only=done.sent)


def _negatives(first: Mapping[str, tuple[str, int, str]], holder: str
               ) -> dict[Key, tuple[str, dict[str, Any]]]:
    return {(holder, method, NEGATIVE, movement): (day, {"balance": balance})
            for method, (day, balance, movement) in first.items()}


def _match(session: Session, held: balances.Computed, area: str | None,
           codes: tuple[str, ...], wanted: dict[Key, tuple[str, dict[str, Any]]],
           only: set[str] | None = None) -> None:
    """Open what is wanted and not there, update what is, clear what is no longer
    (of the alerts on the movements ``only``, when given)."""
    query = select(StockFlag).where(StockFlag.commune_code == held.commune_code,
                                    StockFlag.code.in_(codes),
                                    StockFlag.status.in_((OPEN, REVIEWED)))
    if area is not None:
        query = query.where(StockFlag.area_code == area)
    now = utcnow()
    for flag in session.scalars(query.with_for_update()):
        if only is not None and flag.movement_id not in only:
            continue
        found = wanted.pop((flag.area_code, flag.method, flag.code, flag.movement_id), None)
        if found is None:
            if flag.status == OPEN:
                flag.status, flag.updated_at = CLEARED, now
        elif (flag.day, flag.details) != found:
            flag.day, flag.details, flag.updated_at = found[0], found[1], now
    for (holder, method, code, movement), (day, details) in sorted(wanted.items()):
        session.add(StockFlag(
            province_code=held.province_code, commune_code=held.commune_code,
            area_code=holder, method=method, code=code, movement_id=movement, day=day,
            details=details, status=OPEN, opened_at=now, updated_at=now))
    session.flush()


def review(session: Session, flag: StockFlag, actor: str, note: str,
           now: dt.datetime | None = None) -> None:
    """Staff looked at an alert (the caller checked the scope and commits)."""
    if flag.status != OPEN:
        raise A0Error("stock_flag_closed")
    flag.status, flag.reviewed_by = REVIEWED, actor
    flag.reviewed_at = flag.updated_at = now or utcnow()
    flag.note = " ".join(note.split())[:200] or None
