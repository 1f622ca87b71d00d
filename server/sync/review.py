"""A reviewer's answer to a conflict, as an operation that flows back to devices.

The choice is written like any device write — through the same applier, ledger
and change sequence — by the server's own writer (device id ``server``), with a
fresh stamp from the server clock and a *base* that has seen both sides. So it
wins on the server, closes the conflict (and any other on the same field that it
saw), and every device receives it on its next pull.
"""

from __future__ import annotations

import uuid
from typing import Any

from a0core.envelope import finalize_op
from a0core.errors import A0Error
from a0core.merge import stamp_of
from a0core.schemas import registry
from server.models.sync import REJECTED, Conflict
from server.register.sequence import allocate
from server.security import audit
from server.security.scope import Scope
from server.sync.applier import Applier, Place
from server.sync.conflicts import OPEN, ConflictFinder
from server.sync.ingest import Entry, IngestContext, write_ledger
from server.sync.ops import parse_op
from server.sync.workset import Sequencer, Workset

SERVER_DEVICE = "server"
# the server's own operations are numbered by a counter of their own (not a province code)
SERVER_OPS_COUNTER = "ops:srv"


def _form_of(ctx: IngestContext, entity: str, field: str) -> tuple[str, int]:
    found = ctx.forms.registry.entity_field(entity, field)
    if found is None:
        raise A0Error("not_found")
    return found[0].id, found[0].version


def typed_value(entity: str, field: str, text: str) -> Any:
    """What a reviewer typed for a conflicting field, as the form's type (an integer
    field's digits as a number); ``None`` when empty. The form still validates it."""
    text = " ".join(str(text).split())[:200]
    if not text:
        return None
    found = registry().entity_field(entity, field)
    if found is not None and found[1].type == "integer" and text.lstrip("-").isdigit():
        return int(text)
    return text


def resolve_conflict(session: Any, ctx: IngestContext, conflict_id: int, value: Any,
                     reviewer: str, scope: Scope | None = None) -> Conflict:
    """Apply the reviewer's value for the conflicting field; the caller commits."""
    conflict = session.get(Conflict, conflict_id)
    if conflict is None:
        raise A0Error("not_found")
    if scope is not None and not scope.covers(conflict.province_code, conflict.commune_code,
                                              conflict.area_code):
        raise A0Error("forbidden")
    if conflict.status != OPEN:
        raise A0Error("conflict_closed")
    sequencer = Sequencer(session, conflict.province_code)
    sequencer.reserve(8)
    ws = Workset(session, sequencer)
    row = ws.get(conflict.entity, conflict.entity_id)
    if row is None:
        raise A0Error("not_found")
    base = max((conflict.b_hlc, conflict.b_device), stamp_of(row["clocks"].get(conflict.field)))
    ctx.clock.observe(base[0])
    form, version = _form_of(ctx, conflict.entity, conflict.field)
    own_seq = allocate(session, SERVER_OPS_COUNTER, 1)
    raw = finalize_op({"seq": own_seq, "hlc": ctx.clock.now(), "type": "upsert", "form": form,
                       "version": version, "id": conflict.entity_id,
                       "fields": {conflict.field: value}, "base": {conflict.field: list(base)}})
    op = parse_op(raw, SERVER_DEVICE)
    finder = ConflictFinder(session)
    applier = Applier(ws, ctx.forms, finder, ctx.now_ms, ctx.max_clock_ahead_ms)
    place = Place(None, conflict.commune_code, conflict.province_code)
    verdict = applier.apply(op, place)
    if verdict.verdict == REJECTED:
        raise verdict.error  # type: ignore[misc]
    ws.flush()
    finder.flush(sequencer, resolved_by=reviewer)
    write_ledger(session, Place(conflict.area_code, conflict.commune_code,
                                conflict.province_code), SERVER_DEVICE, str(uuid.uuid4()),
                 [Entry(own_seq, raw, op, verdict)], [], sequencer)
    audit.record(session, reviewer, "conflict.resolve", target=f"conflict:{conflict_id}",
                 province_code=conflict.province_code, commune_code=conflict.commune_code,
                 details={"field": conflict.field, "entity_id": conflict.entity_id})
    for hook in ctx.hooks:
        hook(session, applier.touched)
    session.refresh(conflict)
    return conflict
