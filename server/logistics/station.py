"""What the commune health station records on the dashboard, as its own writer.

Like a reviewer's choice (:mod:`server.sync.review`), every record is an operation of
the server's writer (device ``server``, its own sequence) that goes through the same
applier, ledger and change sequence as a device's, so the collaborator's phone pulls
a transfer to its area like any other change, confirms it, and the station sees the
confirmation; the station confirms what a collaborator returns the same way. Then
the after-batch hooks run (alerts, the station's roll-up leaf, the area's cells).
No Flask: the page parses, calls these, commits.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from a0core import stock
from a0core.envelope import finalize_op
from a0core.errors import A0Error
from server.logistics import flags
from server.logistics.movements import KIND
from server.models.logistics import StockFlag, StockMovement
from server.models.orgunits import LEVEL_AREA, LEVEL_COMMUNE, OrgUnit
from server.models.people import Collaborator
from server.models.sync import REJECTED
from server.orgunits.queries import current_tree
from server.register.sequence import allocate
from server.security import audit
from server.security.scope import Scope
from server.sync.applier import Applier, Place
from server.sync.conflicts import ConflictFinder
from server.sync.ingest import Entry, IngestContext, write_ledger
from server.sync.ops import parse_op
from server.sync.review import SERVER_DEVICE, SERVER_OPS_COUNTER
from server.sync.workset import Sequencer, Workset

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def commune_place(session: Session, scope: Scope, commune: str) -> Place:
    """The station's place: a commune the scope covers (else the same refusal as an
    unknown one)."""
    unit = session.scalar(select(OrgUnit).where(
        OrgUnit.tree == current_tree(session), OrgUnit.code == commune,
        OrgUnit.level == LEVEL_COMMUNE))
    province = unit.province_code if unit is not None else session.scalar(
        select(Collaborator.province_code).where(Collaborator.commune_code == commune).limit(1))
    if province is None or not scope.covers(province, commune):
        raise A0Error("not_found")
    return Place(None, commune, province)


def commune_areas(session: Session, commune: str) -> list[str]:
    """The collaborator areas of a commune: the tree's and those collaborators hold."""
    areas = set(session.scalars(select(OrgUnit.code).where(
        OrgUnit.tree == current_tree(session), OrgUnit.level == LEVEL_AREA, OrgUnit.active,
        OrgUnit.commune_code == commune)))
    areas |= set(session.scalars(select(Collaborator.area_code).where(
        Collaborator.commune_code == commune, Collaborator.active)))
    return sorted(areas)


def record(session: Session, ctx: IngestContext, scope: Scope, commune: str, form_id: str,
           values: dict[str, Any], record_id: str | None = None) -> str:
    """Record one stock form for the station of ``commune`` (a transfer to one of its
    collaborators, a receipt, a count, …); returns the new record's id (``record_id``:
    one chosen beforehand, e.g. by the demo, whose phones plan their confirmations
    ahead). Refusals (invalid values, a form the station may not use here) change
    nothing."""
    place = commune_place(session, scope, commune)
    form = ctx.forms.registry.form(form_id)
    if form is None or form.kind != "stock":
        raise A0Error("form_unknown", form=form_id[:48])
    area = values.get("area_code")
    if area and area not in commune_areas(session, commune):
        raise A0Error("stock_area_unknown", record=str(area)[:32])
    if form.id == stock.RECEIPT:
        _check_expiry(values)
    record_id = record_id or str(uuid.uuid4())
    _apply(session, ctx, scope, place, {
        "type": "stock", "form": form.id, "version": form.version, "id": record_id,
        "fields": {**values, "id": record_id}}, f"stock.{form.id}", record_id)
    return record_id


def _check_expiry(values: dict[str, Any]) -> None:
    """A lot received already expired (its expiry before the day it was received) is
    refused; a receipt without an expiry is a lot of unknown expiry (it leaves last)."""
    expiry, received = values.get("expiry"), values.get("received_on")
    if all(isinstance(v, str) and _DAY.match(v) for v in (expiry, received)) \
            and expiry < received:  # type: ignore[operator]
        raise A0Error("stock_expired_on_receipt", field="expiry")


def void(session: Session, ctx: IngestContext, scope: Scope, movement_id: str,
         reason: str) -> None:
    """Withdraw a movement the station recorded in error."""
    row = session.get(StockMovement, movement_id)
    if row is None or not scope.covers(row.province_code, row.commune_code):
        raise A0Error("not_found")
    _apply(session, ctx, scope, Place(None, row.commune_code, row.province_code), {
        "type": "void", "form": None, "version": None, "id": movement_id,
        "fields": {"target": KIND, "reason": " ".join(reason.split())[:200] or "—"}},
        "stock.void", movement_id)


def review_flag(session: Session, scope: Scope, flag_id: int, note: str) -> StockFlag:
    flag = session.get(StockFlag, flag_id)
    if flag is None or not scope.covers(flag.province_code, flag.commune_code,
                                        flag.area_code or None):
        raise A0Error("not_found")
    flags.review(session, flag, scope.actor, note)
    audit.record(session, scope.actor, "stock.flag_review", target=f"stock_flag:{flag.id}",
                 province_code=flag.province_code, commune_code=flag.commune_code,
                 details={"code": flag.code, "movement_id": flag.movement_id})
    return flag


def _apply(session: Session, ctx: IngestContext, scope: Scope, place: Place,
           op: dict[str, Any], action: str, target: str) -> None:
    sequencer = Sequencer(session, place.province_code)
    sequencer.reserve(8)
    own_seq = allocate(session, SERVER_OPS_COUNTER, 1)
    raw = finalize_op({"seq": own_seq, "hlc": ctx.clock.now(), **op})
    parsed = parse_op(raw, SERVER_DEVICE)
    ws = Workset(session, sequencer)
    finder = ConflictFinder(session)
    applier = Applier(ws, ctx.forms, finder, ctx.now_ms, ctx.max_clock_ahead_ms)
    verdict = applier.apply(parsed, place)
    if verdict.verdict == REJECTED:
        raise verdict.error  # type: ignore[misc]
    if verdict.waiting_on:  # the station confirms only what it holds already
        raise A0Error("stock_not_confirmable", record=verdict.waiting_on)
    ws.flush()
    row = ws.get(KIND, parsed.id) or {}
    write_ledger(session, Place(row.get("area_code") or "", place.commune_code,
                                place.province_code),
                 SERVER_DEVICE, str(uuid.uuid4()), [Entry(own_seq, raw, parsed, verdict)], [],
                 sequencer)
    audit.record(session, scope.actor, action, target=f"stock:{target}",
                 province_code=place.province_code, commune_code=place.commune_code,
                 details={"form": op.get("form"), "method": row.get("method"),
                          "quantity": row.get("quantity"), "area_code": row.get("area_code")})
    for hook in ctx.hooks:
        hook(session, applier.touched)


