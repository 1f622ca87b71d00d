"""Concurrent edits of one field, found the same way whatever order writes arrive in.

A conflict is a property of a *pair* of writes (:func:`a0core.merge.conflicting`),
so an incoming write is compared with every earlier write of that field, not only
with the current winner: then the set of conflicts depends only on the set of
writes received. Earlier writes come from the operation ledger (their fields and
bases are kept in ``sync_op.payload``) plus the entity's current clocks, which
cover writes that never came through sync (bulk loads). The common case — a write
based on the value the server holds — needs no history at all.

A batch reads that history before it takes its change numbers; :meth:`ConflictFinder.validate`
reads it again once they are taken, and the batch starts again if a write of
another batch arrived meanwhile (a write that lost to the current value changes
no row, so only its history shows it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from a0core.merge import Write, conflicting, stamp_of
from server.models.base import utcnow
from server.models.pipeline import defer_read
from server.models.sync import APPLIED, CONFLICT, UPSERTS_ONLY, Conflict, SyncOp
from server.sync.statements import statements
from server.sync.workset import Sequencer, StaleRead

OPEN, RESOLVED, SUPERSEDED = "open", "resolved", "superseded"


def _history(entity_id: str) -> Any:
    return (select(SyncOp.device_id, SyncOp.hlc, SyncOp.payload)
            .where(SyncOp.entity_id == entity_id, UPSERTS_ONLY,
                   SyncOp.status.in_((APPLIED, CONFLICT))))


class ConflictFinder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._ledger: dict[str, list[Write]] = {}    # earlier batches, per entity
        self._pending: dict[str, list[Write]] = defaultdict(list)  # this batch
        self.found: list[dict[str, Any]] = []
        # history read, for validate(); SQLite's write lock, held from the start, leaves
        # nothing to check
        self._read: dict[str, set[tuple[int, str]]] | None = (
            {} if session.get_bind().dialect.name == "postgresql" else None)
        # open conflicts of entities, asked for with the batch's first look-ups
        self._open: dict[str, list[Any]] = {}

    def prefetch_open(self, ids: Collection[str]) -> None:
        """Ask for the open conflicts of ``ids`` (the entities the batch edits on a base)
        with the batch's next look-up (PostgreSQL, deferring; else nothing: :meth:`flush`
        looks them up), not a round trip of their own at the end of the merge."""
        if not ids:
            return
        sql = statements(self.session)
        wanted = sorted(ids)

        def found(names: list[str], rows: list[tuple[Any, ...]]) -> None:
            self._open.update((i, []) for i in wanted)
            for row in rows:
                conflict = dict(zip(names, row, strict=True))
                self._open[conflict["entity_id"]].append(conflict)
        defer_read(self.session, sql.open_conflicts, sql.ids(wanted), found)

    def _earlier(self, entity_id: str, row: Mapping[str, Any], field: str) -> list[Write]:
        if entity_id not in self._ledger:
            writes: list[Write] = []
            ops = self.session.execute(_history(entity_id)).all()
            if self._read is not None:
                self._read[entity_id] = {(hlc, device) for device, hlc, _ in ops}
            for device, hlc, payload in ops:
                base = payload.get("base") or {}
                writes += [Write(name, value, (hlc, device), stamp_of(base.get(name)))
                           for name, value in payload["fields"].items()]
            self._ledger[entity_id] = writes
        writes = [w for w in self._ledger[entity_id] + self._pending[entity_id]
                  if w.field == field]
        clock = row["clocks"].get(field)
        if clock and stamp_of(clock) not in {w.stamp for w in writes}:
            # a write that never came through sync (bulk load): it had seen nothing
            writes.append(Write(field, row["data"].get(field), stamp_of(clock)))
        return writes

    def check(self, kind: str, row: Mapping[str, Any], write: Write) -> list[dict[str, Any]]:
        """Conflicts between ``write`` and what came before; recorded for :meth:`flush`."""
        current = stamp_of(row["clocks"].get(write.field))
        sequential = write.field not in row["clocks"] or (
            write.base == current and write.stamp > current)
        found = []
        if not sequential:
            # based on the value the server holds needs no history: anything concurrent
            # with it would be newer than the current value, and has not arrived yet
            earlier = self._earlier(row["id"], row, write.field)
            for other in earlier:
                if conflicting(write, other):
                    a, b = sorted((write, other), key=lambda w: w.stamp)
                    seen_both = any(w.base >= b.stamp for w in [*earlier, write])
                    found.append({
                        "entity": kind, "entity_id": row["id"], "field": write.field,
                        "province_code": row["province_code"],
                        "commune_code": row["commune_code"], "area_code": row["area_code"],
                        "a_hlc": a.stamp[0], "a_device": a.stamp[1], "a_value": a.value,
                        "b_hlc": b.stamp[0], "b_device": b.stamp[1], "b_value": b.value,
                        "status": SUPERSEDED if seen_both else OPEN,
                    })
        self._pending[row["id"]].append(write)
        self.found.extend(found)
        return found

    @property
    def history_read(self) -> bool:
        """Whether an entity's history was read (then :meth:`validate` reads it again)."""
        return bool(self._read)

    def validate(self, own: Collection[tuple[int, str]] = ()) -> None:
        """Raise :class:`~server.sync.workset.StaleRead` if the history of an entity read
        so far has another write now than those of ``own`` (the stamps of the operations
        the batch stored or released)."""
        read, self._read = self._read, None
        for entity_id, stamps in (read or {}).items():
            now = {(hlc, device) for device, hlc, _ in self.session.execute(
                _history(entity_id))}
            if now.difference(own) != stamps:
                raise StaleRead("sync_op")

    def flush(self, next_seq: Sequencer, resolved_by: str | None = None,
              now: dt.datetime | None = None) -> None:
        """Insert new conflicts (once per pair); close those a later write saw both sides of.
        ``now``: when the batch that found them arrived (the ingestion context's clock)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        pair = ("entity_id", "field", "a_hlc", "a_device", "b_hlc", "b_device")
        for record in self.found:
            stmt = insert(Conflict).values(seq=next_seq(), created_at=now or utcnow(),
                                           **record).on_conflict_do_nothing(
                index_elements=list(pair)).returning(Conflict.id)
            new_id = self.session.execute(stmt).scalar()
            if new_id is None:  # the same pair arrived before: name that record
                new_id = self.session.scalar(select(Conflict.id).filter_by(
                    **{k: record[k] for k in pair}))
            else:
                next_seq.numbered("conflict", new_id)
            record["id"] = new_id
        based = {eid: ws for eid, ws in self._pending.items() if any(w.base[0] for w in ws)}
        for conflict in self._open_of(based):
            newer = [w for w in based[conflict["entity_id"]] if w.field == conflict["field"]
                     and w.base >= (conflict["b_hlc"], conflict["b_device"])]
            if newer:
                self.session.execute(update(Conflict).where(Conflict.id == conflict["id"])
                                     .values(status=RESOLVED if resolved_by else SUPERSEDED,
                                             resolved_value=newer[-1].value,
                                             resolved_by=resolved_by, seq=next_seq()))
                next_seq.numbered("conflict", conflict["id"])
        for entity_id, writes in self._pending.items():
            if entity_id in self._ledger:
                self._ledger[entity_id].extend(writes)
        self._pending.clear()
        self.found.clear()

    def _open_of(self, ids: Collection[str]) -> list[dict[str, Any]]:
        """The open conflicts of ``ids``: those asked for already, and the rest now."""
        rest = sorted(i for i in ids if i not in self._open)
        out = [c for i in ids if i in self._open for c in self._open.pop(i)]
        if rest:
            sql = statements(self.session)
            out += [dict(row._mapping) for row in self.session.execute(
                sql.open_conflicts, sql.ids(rest))]
        return out
