"""A stock operation as the ingestion applies it: who may record what, and its row.

Called by :class:`server.sync.applier.Applier` for operations of type ``stock``
(a device's batch, or the station's own writer: :mod:`server.logistics.station`).
Refusals change nothing, like every other refusal of the applier:

* a collaborator's device records its own area's receipts from other suppliers,
  returns, losses and counts, and confirms what the station issued *to its area*;
  issuing to a collaborator and handing out at the station are the station's
  (``stock_station_only``), so is confirming a collaborator's return;
* a confirmation names a transfer to the device's area (the device) or a
  collaborator's return within the commune (the station); anything else is
  ``stock_not_confirmable``; a confirmation whose transfer has not arrived waits;
* a record is voided only by the side that recorded it (``stock_void_forbidden``).

A movement that takes a balance below zero is *applied* — delivery order is not the
collaborator's doing — and the after-batch hook flags it for the station's review
(:mod:`server.logistics.flags`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from a0core import stock
from a0core.errors import A0Error
from a0core.schemas import FormDef
from server.models.logistics import StockMovement

KIND = "stock_movement"  # the workset kind, and the target of a void
STATION_WRITER = "server"  # the station writes as the server (server.sync.review.SERVER_DEVICE)


def movement_of(row: dict[str, Any] | StockMovement) -> stock.Movement:
    """The ledger's view of a stored movement (a row as a dict, or the model)."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return stock.Movement(
        id=get("id"), form=get("form"), area=get("area_code") or stock.STATION,
        method=get("method"), quantity=get("quantity"), day=get("day"),
        stamp=(get("hlc"), get("device_id")), voided=bool(get("voided")),
        target=get("target_id"), lot=get("lot"), expiry=get("expiry"), source=get("source"),
        unit_price=get("unit_price"))


def stock_row(form: FormDef, record: dict[str, Any], *, hlc: int, device: str,
              area_code: str | None, commune_code: str, province_code: str,
              target: dict[str, Any] | None) -> dict[str, Any]:
    """The row of a valid stock record from this writer (``area_code``: the device's
    area; None for the station), or a refusal."""
    by_device = area_code is not None
    if form.id == stock.CONFIRM:
        assert target is not None
        if by_device:
            ok = target["form"] == stock.TRANSFER and target["area_code"] == area_code
        else:
            ok = (target["form"] == stock.RETURN and bool(target["area_code"])
                  and target["commune_code"] == commune_code)
        if not ok:
            raise A0Error("stock_not_confirmable", record=record["transfer_id"])
    elif by_device:
        if form.id not in stock.DEVICE_FORMS or not record.get("area_code"):
            raise A0Error("stock_station_only", form_vi=form.title["vi"], form_en=form.title["en"])
        if record["area_code"] != area_code:
            raise A0Error("op_out_of_scope")
    moved = stock.movement(form.id, record, stamp=(hlc, device),
                           target=movement_of(target) if target is not None else None)
    return {
        "id": record["id"], "province_code": province_code, "commune_code": commune_code,
        "area_code": moved.area, "form": form.id, "form_version": form.version,
        "method": moved.method, "quantity": moved.quantity, "day": moved.day,
        "lot": moved.lot, "expiry": moved.expiry, "source": moved.source,
        "unit_price": moved.unit_price, "target_id": moved.target, "payload": record,
        "hlc": hlc, "device_id": device, "voided": False}


def check_void(row: dict[str, Any], area_code: str | None) -> None:
    """Only the side that recorded a movement withdraws it."""
    by_station = row["device_id"] == STATION_WRITER
    if by_station == (area_code is not None):
        raise A0Error("stock_void_forbidden", record=row["id"])


def affected(row: dict[str, Any]) -> tuple[bool, bool]:
    """Whose figures a movement (or its void) changes: (the station's, the area's)."""
    station = row["form"] in (stock.TRANSFER, stock.DISPENSE, stock.CONFIRM) \
        or not row["area_code"] or row["form"] == stock.RETURN
    return station, bool(row["area_code"])


def first_day(ws: Any, row: dict[str, Any]) -> str:
    """The earliest day whose figures a movement (or its void) can change: its own day,
    and for a transfer or a confirmation the days of the transfer and of every
    confirmation of it (a later confirmation replaces an earlier one)."""
    transfer = row["target_id"] or (row["id"] if row["form"] in (stock.TRANSFER, stock.RETURN)
                                    else None)
    days = [row["day"]]
    if transfer is not None:
        found = ws.get(KIND, transfer)
        if found is not None:
            days.append(found["day"])
        days += ws.session.scalars(select(StockMovement.day).where(
            StockMovement.target_id == transfer)).all()
        days += [r["day"] for r in ws.rows[KIND].values()
                 if r is not None and r["target_id"] == transfer]
    return min(days)
