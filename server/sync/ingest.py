"""Ingest one sealed batch, exactly once, in one transaction (DESIGN §3.3–3.5).

The HTTPS endpoint and ``a0sync import-batch`` both call :func:`ingest_batch`:

1. open the envelope: size, structure, device (known, not revoked), signature,
   server key, decryption, body against header — any failure refuses the batch
   whole and changes nothing;
2. in one transaction, holding its area's lock (:mod:`server.sync.locks`: batches
   of one area one after the other, of other areas side by side): a batch id seen
   before returns the receipt kept for it (or is refused if the content differs),
   looked up with the batch's operations already stored, in one statement; a new
   batch sealed by a clock further ahead than the tolerance is refused whole
   (``hlc_future``, with the server's time);
3. sort each operation into duplicate / hash mismatch / new and apply the new ones
   in memory;
4. write: release operations that were waiting for what just arrived, write the
   register (an update only of the row as it was read: else another batch wrote it
   meanwhile and this one starts again), the ledger, the device's sequence state
   (likewise only as read with the envelope) and the signed receipt, and queue the
   after-batch work (roll-ups, duplicates: done after the commit,
   :mod:`server.sync.followups`). On PostgreSQL the register rows carry provisional
   change numbers (``-1, -2, …``) and wait for step 5; the other writes are sent along
   with the next look-up (:mod:`server.models.pipeline`: one round trip for many
   statements, their checks run when the answers are back);
5. then the short step that makes the batch visible (issue 19): take the change
   numbers from the province's counter in one statement, the register rows written
   right after it, in the same round trip, each once and with its final number
   (:meth:`Sequencer.settle`; SQLite took them in step 3, under its write lock);
   the counter's row lock is held to the commit, so numbers become visible in order
   and pull cursors never skip; re-read the device (revoked, or moved by a reform
   meanwhile) with the check that nothing the batch read and did not write changed
   (:meth:`Workset.validate`, :meth:`ConflictFinder.validate`; else it starts
   again) and commit. On PostgreSQL, unless the batch read a household's members
   or a field's history, these checks are statements that fail in the database
   (:meth:`Workset.validate_later`), sent with the settle step and the COMMIT in
   one round trip: the counter is held by the database alone.

A crash anywhere before commit leaves nothing of the batch behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from a0core import collector
from a0core.envelope import open_batch, sign_receipt
from a0core.errors import A0Error
from a0core.forms import FormSet
from a0core.hlc import HybridClock, physical_ms, wall_ms
from a0core.schemas import FormDef
from server import formats
from server.models.base import IN_CHUNK, chunks, insert_rows, utcnow
from server.models.pipeline import commit, defer_read, deferring, pipelined
from server.models.sync import DUPLICATE, REJECTED, WAITING, SyncBatch, SyncOp
from server.security.keys import KeyStore
from server.sync import refold
from server.sync.applier import Applier, Place, Touched, Verdict, warned
from server.sync.clock import check_ahead
from server.sync.conflicts import ConflictFinder
from server.sync.followups import FollowUps, gathered
from server.sync.ledger import DeviceRow, update_device_state
from server.sync.locks import RETRY_STATES, hold
from server.sync.ops import DISTRIBUTION, EVENT, STOCK, UPSERT, VOID, Op, parse_op
from server.sync.statements import statements
from server.sync.workset import ENTITY_KINDS, DeviceNow, Sequencer, StaleRead, Workset, stale

# an after-batch hook queues work (server.sync.followups). It runs before the settle
# step: on PostgreSQL the batch's register rows are not written yet, so a statement of
# its own that reads them waits for that step (``at_settle``, as ``queued_if`` does)
AfterBatch = Callable[[Session, Touched], None]
ATTEMPTS = 8  # a batch whose reads went stale starts again, at most this often


@dataclass
class IngestContext:
    keys: KeyStore
    forms: FormSet
    clock: HybridClock
    max_batch_bytes: int
    max_clock_ahead_ms: int
    now_ms: Callable[[], int] = wall_ms
    hooks: Sequence[AfterBatch] = field(default_factory=tuple)
    # the queue of work after the commit: persons refolded there (server.sync.refold);
    # None: with the batch
    followups: FollowUps | None = None


@dataclass(slots=True)
class Entry:
    """One operation of the batch and what became of it."""

    seq: int
    raw: dict[str, Any]
    op: Op | None = None
    verdict: Verdict | None = None  # None: already stored (duplicate / hash mismatch)
    answer: dict[str, Any] | None = None


@dataclass(slots=True)
class Pending:
    """An operation waiting for a record; ``row`` is its ledger row if from an earlier batch."""

    op: Op
    place: Place
    entry: Entry | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    """The enrolled device a batch comes from, as read when its envelope was opened."""

    id: str
    sign_public_key: str
    area_code: str
    commune_code: str
    province_code: str
    revoked_at: dt.datetime | None = None  # only with ``accept_revoked``
    # the device's sequence state as read with it (None: no row yet), for the ledger
    state: DeviceRow | None = field(default=None, compare=False)


class _Moved(Exception):
    """The device's area moved to another province before the batch took its lock."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender


def _sender(session: Session, device_id: str, accept_revoked: bool) -> Sender:
    row = session.execute(statements(session).sender, {"device": device_id}).first()
    if row is None:
        raise A0Error("device_unknown")
    if row.revoked_at is not None and not accept_revoked:
        raise A0Error("device_revoked")
    state = None if row.has_state is None else DeviceRow(*row[7:])
    return Sender(*row[1:6], revoked_at=row.revoked_at, state=state)


def sealed_before(revoked_at: dt.datetime, header: dict[str, Any],
                  ops: list[dict[str, Any]]) -> None:
    """A revoked device's batch is taken (by an administrator's override) only if every
    stamp in it, its header's and its operations', is older than the revocation.

    The stamps are the device's own clock: the override is for a device its owner
    trusts (a phone replaced, not stolen), which is why only an administrator may
    use it and every use is audited."""
    at = revoked_at if revoked_at.tzinfo else revoked_at.replace(tzinfo=dt.UTC)
    limit = int(at.timestamp() * 1000)
    stamps = [header.get("hlc"), *(op.get("hlc") for op in ops if isinstance(op, dict))]
    if any(type(s) is int and physical_ms(s) >= limit for s in stamps):
        raise A0Error("batch_sealed_after_revocation",
                      revoked_at=formats.stated(at, "vi"))


def ingest_batch(session: Session, data: bytes, ctx: IngestContext,
                 carrier: str = "https", *, accept_revoked: bool = False) -> dict[str, Any]:
    """Ingest an envelope; return the signed receipt (the same one for a re-sent batch).

    ``accept_revoked``: a revoked device's batch sealed before its revocation is taken
    (:func:`sealed_before`); the caller checked who may and audits it."""
    with collector.paused():  # bounded by the batch limit
        return _ingest(session, data, ctx, carrier, accept_revoked)


def _ingest(session: Session, data: bytes, ctx: IngestContext, carrier: str,
            accept_revoked: bool) -> dict[str, Any]:
    try:
        sender: list[Sender] = []  # found when the envelope's header names the device

        def sign_key_for(device_id: str) -> str:
            sender.append(_sender(session, device_id, accept_revoked))
            return sender[-1].sign_public_key

        opened = open_batch(
            data, max_bytes=ctx.max_batch_bytes, device_sign_key_for=sign_key_for,
            server_box_private_for=lambda kid: ctx.keys.get(kid).box_private)
        if statements(session).dialect == "sqlite":
            # SQLite: the write transaction must start with its write lock (a read
            # transaction cannot always become a write one). PostgreSQL reads committed
            # rows afresh at every statement, so the batch goes on in the same
            # transaction: no rollback, no new connection checked out (and pinged)
            session.rollback()
        receipt = _apply_until_done(session, sender, opened, ctx, carrier)
        session.commit()
        return receipt
    except BaseException:
        session.rollback()
        raise


def _apply_until_done(session: Session, sender: list[Sender], opened: Any,
                      ctx: IngestContext, carrier: str) -> dict[str, Any]:
    """Apply the batch, starting again when what it read changed before it could write
    (another batch, a merge, a reform meanwhile): as if it had waited its turn."""
    for attempt in range(ATTEMPTS):
        try:
            with deferring(session):  # PostgreSQL: writes go with the next look-up
                return _apply_batch(session, sender[-1], opened.header, opened.ops,
                                    opened.body_hash, ctx, carrier, plain=opened.plain)
        except _Moved as moved:  # its area went to another commune or province meanwhile
            session.rollback()
            sender.append(moved.sender)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) not in RETRY_STATES:
                raise
            session.rollback()
        except (StaleRead, DatabaseError) as error:
            if not stale(error):
                raise
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise A0Error("server_busy") from error
            # the device too may have moved on (its sequence state: another of its batches)
            sender.append(_sender(session, sender[-1].id, sender[-1].revoked_at is not None))
            session.rollback()  # SQLite: the next attempt starts with its write lock
    raise A0Error("server_busy")


def _apply_batch(session: Session, device: Sender, header: dict[str, Any],
                 raw_ops: list[dict[str, Any]], body_hash: str, ctx: IngestContext,
                 carrier: str, plain: bool = False) -> dict[str, Any]:
    hold(session, f"area:{device.area_code}")  # SQLite: the write lock
    sql = statements(session)
    first, last = header["seq"]
    entries = [Entry(raw["seq"], raw) for raw in raw_ops]
    for entry in entries:
        try:
            entry.op = parse_op(entry.raw, device.id, known_plain=plain)
        except A0Error as error:
            entry.verdict = Verdict(REJECTED, error)
    # PostgreSQL: provisional numbers, the real ones taken in one statement at the end
    sequencer = Sequencer(session, device.province_code, deferred=sql.dialect == "postgresql")
    ws = Workset(session, sequencer)
    if ctx.followups is not None:
        ws.later = set()
    # PostgreSQL: the rows the operations may touch are asked for now, sent with the
    # look-up below, after the lock, in one round trip (unused if the batch is known)
    early = pipelined(session)
    finder, stored_waiting = ConflictFinder(session), Waiting(session, ws)
    if early:  # and the operations waiting for what the batch may create, open conflicts
        stored_waiting.prefetch(_prefetch(ws, [e.op for e in entries if e.op], ctx.forms))
        finder.prefetch_open({e.op.id for e in entries if e.op and e.op.type == UPSERT
                              and any(stamp[0] for stamp in e.op.base.values())})
    # the batch seen before (sent again, or twice at once), and which of its operations
    # are stored already: one look-up, under the lock
    stored: dict[int, str] = {}
    for known_hash, known_receipt, seq, op_hash in session.execute(sql.seen, {
            "batch": header["batch"], "device": device.id, "first": first, "last": last}):
        if known_hash is None:
            stored[seq] = op_hash
        elif known_hash != body_hash:
            raise A0Error("batch_id_reused", batch=header["batch"])
        else:
            return known_receipt
    check_ahead(header["hlc"], ctx.now_ms(), ctx.max_clock_ahead_ms)
    if device.revoked_at is not None:
        sealed_before(device.revoked_at, header, raw_ops)

    for entry in entries:
        if entry.seq in stored:
            same = stored[entry.seq] == entry.raw.get("hash")
            entry.op, entry.verdict = None, None
            entry.answer = ({"seq": entry.seq, "verdict": DUPLICATE} if same else
                            Verdict(REJECTED, A0Error("op_hash_mismatch", seq=entry.seq))
                            .to_dict(entry.seq))

    applier = Applier(ws, ctx.forms, finder, ctx.now_ms, ctx.max_clock_ahead_ms)
    place = Place(device.area_code, device.commune_code, device.province_code)
    if not early:
        _prefetch(ws, [e.op for e in entries if e.op], ctx.forms)
    _prefetch_survivors(ws)
    for entry in entries:
        if entry.op is not None:
            entry.verdict = applier.apply(entry.op, place)

    # SQLite: the province's change numbers now (the batch holds the write lock anyway)
    sequencer.reserve(3 * len(raw_ops) + 8)
    released = _release_waiting(stored_waiting, ws, applier, [
        Pending(e.op, place, entry=e) for e in entries
        if e.op and e.verdict and e.verdict.verdict == WAITING])
    for entry in entries:
        if entry.op and entry.verdict and entry.verdict.verdict != REJECTED:
            ctx.clock.observe(entry.op.hlc)

    ws.flush()
    now = _at(ctx.now_ms())  # the context's clock: the wall's, or a demo's season
    finder.flush(sequencer, now=now)
    write_ledger(session, place, device.id, header["batch"], entries, released, sequencer,
                 now)
    state = update_device_state(session, device.id, header.get("hlc", 0), ctx.now_ms(), now,
                                state=device.state,  # as read with the envelope
                                stored=[e.seq for e in entries if e.verdict is not None])
    answers = [e.answer or e.verdict.to_dict(e.seq) for e in entries]  # type: ignore[union-attr]
    receipt = sign_receipt({
        "v": 1, "type": "receipt", "device": device.id, "batch": header["batch"],
        "kid": header["kid"], "received_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "server_hlc": ctx.clock.now(), "highest_contiguous_seq": state.highest_contiguous_seq,
        "missing": state.gaps, "verdicts": answers,
    }, ctx.keys.get(header["kid"]).sign_private, header["kid"])
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer["verdict"]] = counts.get(answer["verdict"], 0) + 1
    insert_rows(session, SyncBatch, [{
        "id": header["batch"], "device_id": device.id, "province_code": device.province_code,
        "commune_code": device.commune_code, "area_code": device.area_code,
        "first_seq": first, "last_seq": last, "op_count": len(raw_ops),
        "body_hash": body_hash, "carrier": carrier, "received_at": now,
        "clock_skew_ms": state.last_clock_skew_ms, "counts": counts, "receipt": receipt}])
    applier.touched.synced.add(device.area_code)
    applier.touched.place = place
    with gathered(session):  # the rows they queue, in one statement
        if ws.later and ctx.followups is not None:
            ctx.followups.enqueue(session, refold.QUEUE,
                                  refold.payload(ws.later, applier.touched.months),
                                  province_code=place.province_code,
                                  commune_code=place.commune_code or "")
        for hook in ctx.hooks:
            hook(session, applier.touched)

    # -- from here to the commit: the province's change numbers (its counter's row lock)
    sequencer.settle()
    # under the lock: the device where it was, and nothing the batch read and did not
    # write changed (what it wrote was checked as it wrote). PostgreSQL, in the common
    # case: checks that fail in the database, sent with the settle step and the COMMIT
    # in one round trip (a failure: StaleRead, and a device moved or revoked meanwhile
    # is found as the batch starts again)
    if not finder.history_read and ws.validate_later(
            device.id, device.province_code, device.commune_code,
            revoked_ok=device.revoked_at is not None) and commit(session):
        return receipt
    if not ws.validate(device.id, lambda now_at: _moved_or_not(session, device, now_at)):
        _moved_or_not(session, device)  # SQLite: nothing to validate, the device read here
    finder.validate({(e.op.hlc, e.op.device) for e in entries if e.op}
                    | {(p.op.hlc, p.op.device) for p in released})
    return receipt


def _moved_or_not(session: Session, device: Sender, now: DeviceNow | bool | None = False,
                  ) -> None:
    """The device read again: revoked meanwhile, or its area carried to another commune
    or province by a migration of the org-unit tree (docs/orgunits.md), which takes the
    province's counter like a batch. ``now``: the device as read already with the
    batch's validation (None: gone); False: read it here."""
    accept_revoked = device.revoked_at is not None
    if now is not False:
        if now is None:
            raise A0Error("device_unknown")
        if now.revoked and not accept_revoked:
            raise A0Error("device_revoked")
        if (now.province_code, now.commune_code) == (device.province_code,
                                                     device.commune_code):
            return
    now_at = _sender(session, device.id, accept_revoked=accept_revoked)
    if (now_at.province_code, now_at.commune_code) != (device.province_code,
                                                       device.commune_code):
        raise _Moved(now_at)


KINDS = ("household", "member", "event", "distribution", "p0_report", "stock_movement")


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _prefetch(ws: Workset, ops: list[Op], forms: FormSet) -> set[str]:
    """Load, in a handful of queries, every row the batch's operations may touch; return
    every id the operations name.

    Each id is looked up in the table(s) its place in the operation says it can be
    in (the operation's own id: its form's entity; a reference field: that field's
    entity); an id whose kind the form does not tell is looked up everywhere. A row
    missed here is still loaded on first use (:meth:`Workset.get`).
    """
    wanted: dict[str, set[str]] = {kind: set() for kind in KINDS}
    every: set[str] = set()
    for op in ops:
        form = forms.registry.forms.get((op.form or "", op.version or 0))
        own = _own_kind(op, form)
        wanted.get(own or "", every).add(op.id)
        if form is None:
            continue
        for name, kind in _ref_kinds(form).items():
            value = op.fields.get(name)
            if isinstance(value, str):
                wanted.get(kind or "", every).add(value)
    # only households and persons are merged as duplicates: the ids that may have an alias
    aliased = every.union(*(wanted[kind] for kind in ENTITY_KINDS))
    ws.prefetch_all({kind: wanted[kind] | every for kind in KINDS}, aliased)
    return every.union(*wanted.values())


def _prefetch_survivors(ws: Workset) -> None:
    """The survivors of merged duplicates among the ids prefetched, if any (else: nothing
    to do), once the aliases are known (the batch's reads answered)."""
    for kind, ids in ws.prefetched.items():
        ws.prefetch(kind, {ws.aliases.get(i, i) for i in ids})


def _own_kind(op: Op, form: FormDef | None) -> str | None:
    if op.type == VOID:
        return op.fields.get("target")
    if form is None:
        return None
    return {EVENT: "event", DISTRIBUTION: "distribution", STOCK: "stock_movement"}.get(
        op.type, form.entity)


_REF_KINDS: dict[int, tuple[FormDef, dict[str, str | None]]] = {}


def _ref_kinds(form: FormDef) -> dict[str, str | None]:
    """Reference fields of a form and the entity each names."""
    cached = _REF_KINDS.get(id(form))
    if cached is None or cached[0] is not form:
        cached = (form, {f.name: f.entity for f in form.fields if f.type == "ref"})
        _REF_KINDS[id(form)] = cached
    return cached[1]


class Waiting:
    """Operations of earlier batches waiting for a record, by the id they wait for.
    PostgreSQL: asked for with the batch's first look-ups, for every id its operations
    name, so that releasing them after the merge takes no round trip of its own unless
    the batch created a record none of them names (a child of a birth, say)."""

    def __init__(self, session: Session, ws: Workset) -> None:
        self.session, self.ws = session, ws
        self.asked: set[str] = set()
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def prefetch(self, ids: set[str]) -> None:
        if not ids or len(ids) > IN_CHUNK:
            return
        wanted = sorted(ids)

        def found(names: list[str], rows: list[tuple[Any, ...]]) -> None:
            self.asked.update(wanted)
            for row in rows:
                op = dict(zip(names, row, strict=True))
                self.rows.setdefault(op["waiting_on"], []).append(op)
        defer_read(self.session, self.ws.sql.waiting_for, self.ws.sql.ids(wanted), found)

    def on(self, ids: list[str]) -> list[dict[str, Any]]:
        """The operations waiting for ``ids`` (each asked once)."""
        rest = [i for i in ids if i not in self.asked]
        out = [op for i in ids if i in self.asked for op in self.rows.pop(i, ())]
        for chunk in chunks(rest):
            out += [dict(row._mapping) for row in self.session.execute(
                self.ws.sql.waiting_for, self.ws.sql.ids(chunk))]
        self.asked.update(rest)
        return out


def _release_waiting(stored: Waiting, ws: Workset, applier: Applier,
                     here: list[Pending]) -> list[Pending]:
    """Apply operations (of any device) that waited for a record this batch created
    (``here``: the batch's own; ``stored``: earlier batches').

    Released operations run in stamp order; a release may create what others wait
    for, so this repeats until nothing more is released. Returns the ledger rows
    of earlier batches whose verdict changed.
    """
    waiting: dict[str, list[Pending]] = {}
    for item in here:
        waiting.setdefault(item.entry.verdict.waiting_on, []).append(item)  # type: ignore[union-attr]
    changed: list[Pending] = []
    done = 0
    while done < len(ws.created):
        arrived = ws.created[done:]
        done = len(ws.created)
        ready = [item for key in arrived for item in waiting.pop(key, [])]
        for row in stored.on(arrived):
            ready.append(Pending(parse_op(row["payload"], row["device_id"]),
                                 Place(row["area_code"], row["commune_code"],
                                       row["province_code"])))
        for item in sorted(ready, key=lambda p: (p.op.hlc, p.op.device, p.op.seq)):
            verdict = applier.apply(item.op, item.place)
            if item.entry is not None:
                item.entry.verdict = verdict
            else:
                item.verdict = verdict
                changed.append(item)
            if verdict.verdict == WAITING:
                waiting.setdefault(verdict.waiting_on or "", []).append(item)
    return changed


def _ledger_fields(verdict: Verdict) -> dict[str, Any]:
    error = verdict.error.to_dict() if verdict.error else None
    if error is None and verdict.warnings:
        error = warned(verdict.warnings)
    detail: dict[str, Any] | None = None
    if error or verdict.conflicts:
        detail = {**(error or {}), "conflicts": [c.get("id") for c in verdict.conflicts]}
    return {"status": verdict.verdict, "code": error["code"] if error else None,
            "detail": detail, "waiting_on": verdict.waiting_on,
            "entity_id": verdict.entity_id}


def write_ledger(session: Session, place: Place, device_id: str, batch_id: str,
                  entries: list[Entry], released: list[Pending],
                  next_seq: Sequencer, now: dt.datetime | None = None) -> None:
    """Store new operations once per (device, seq), and the verdicts that changed."""
    now = now or utcnow()
    rows = []
    for entry in entries:
        if entry.verdict is None:
            continue
        op = entry.op
        rows.append({
            "device_id": device_id, "seq": entry.seq, "op_hash": str(entry.raw.get("hash", "")),
            "batch_id": batch_id, "province_code": place.province_code,
            "commune_code": place.commune_code, "area_code": place.area_code or "",
            "hlc": op.hlc if op else 0, "type": op.type if op else str(entry.raw.get("type"))[:16],
            "form": op.form if op else None, "form_version": op.version if op else None,
            "payload": entry.raw, "received_at": now, "change_seq": 0,
            "decided_at": None if entry.verdict.verdict == WAITING else now,
            **_ledger_fields(entry.verdict),
        })
        if rows[-1]["entity_id"] is None and op is not None:
            rows[-1]["entity_id"] = op.id
    if rows:
        insert_rows(session, SyncOp, rows)
    for item in released:
        verdict = item.verdict
        assert verdict is not None
        session.execute(update(SyncOp).where(
            SyncOp.device_id == item.op.device, SyncOp.seq == item.op.seq).values(
            decided_at=None if verdict.verdict == WAITING else now,
            change_seq=next_seq(), **_ledger_fields(verdict)))
        next_seq.numbered("sync_op", (item.op.device, item.op.seq))
