"""The register rows one batch touches: loaded once, changed in memory, written once.

Ingestion is the hot path (DESIGN §3, issue target ≥ 20,000 operations/s on
SQLite), so a batch never loads or writes row by row: ids are prefetched per
kind in one query, rows live here as plain dicts, and :meth:`Workset.flush`
writes them with one ``executemany`` per table. Members whose facts changed are
refolded at flush time, once each, from the events stored and the batch's own.

A batch reads, merges and writes before it takes its province's change numbers
(:mod:`server.sync.ingest`), so what it read may have changed by then. Every
change of a register row gives the row a new change number, so an update is
written only if the row still has the number it was read with (else
:class:`StaleRead`), and :meth:`Workset.validate`, run once the numbers are
taken, compares each row read and not written with the row now (its number; a
row missing then must still be missing), the aliases of merged duplicates and
the members of the households read: if anything differs the batch starts again,
as if it had waited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from a0core.projection import EventRef, member_state
from server.models.base import GUARD, IN_CHUNK, chunks, insert_rows, update_rows, utcnow
from server.models.pipeline import defer_read, defer_statement, pipelined
from server.models.register import Member
from server.register.materialise import household_columns, member_columns
from server.register.sequence import allocate, settle
from server.sync.statements import MODELS, statements, unchanged

ENTITY_KINDS = ("household", "member")


class Sequencer:
    """Hands out change-sequence numbers, reserving them from the province counter in blocks.

    ``deferred`` (a batch on PostgreSQL): the numbers handed out are provisional,
    ``-1, -2, …``, and :meth:`settle` takes the real numbers at the end of the
    transaction: ``-k`` becomes the ``k``-th. Rows written inside a pipeline
    (:meth:`holds`) wait for it and are written once, with their final number, in the
    same round trip; a row written before (a conflict, whose id is needed at once; any
    row outside a pipeline) is renumbered by it, and whoever wrote it says which row
    it was (:meth:`numbered`). So the counter's row lock, which serialises a
    province's commits, is held by the database for the batch's last round trip only,
    never while Python works."""

    def __init__(self, session: Session, province_code: str, block: int = 256,
                 deferred: bool = False) -> None:
        self.session, self.province, self.block = session, province_code, block
        self._next, self._end = 0, 0
        self.deferred = deferred
        self._given = 0
        self._keys: dict[str, list[Any]] = defaultdict(list)
        self._ledger: list[tuple[str, int]] = []
        self._updated: dict[str, list[tuple[str, int]]] = defaultdict(list)

    def reserve(self, count: int) -> None:
        """Take the counter's row lock now, for about ``count`` numbers (deferred: none
        is taken until :meth:`settle`)."""
        if self.deferred:
            return
        self._next = allocate(self.session, self.province, max(count, 1))
        self._end = self._next + max(count, 1)

    def __call__(self) -> int:
        if self.deferred:
            self._given += 1
            return -self._given
        if self._next >= self._end:
            self.reserve(self.block)
        value = self._next
        self._next += 1
        return value

    def holds(self) -> bool:
        """Whether rows written now wait for :meth:`settle` (``at_settle`` writes)."""
        return self.deferred and pipelined(self.session)

    def updated(self, table: str, rows: Iterable[tuple[str, int]]) -> None:
        """Rows of ``table`` (id, provisional number) updated at the settle step only as
        they were read: the settle step checks that each was written (else the batch
        starts again)."""
        self._updated[table].extend(rows)

    def numbered(self, table: str, key: Any) -> None:
        """A deferred number went to ``table``'s row ``key`` (``sync_op``: its
        ``(device, seq)``, the number its ``change_seq``)."""
        if self.deferred:
            (self._ledger if table == "sync_op" else self._keys[table]).append(key)

    def settle(self) -> None:
        """Deferred: take the numbers now and give them to the rows they went to (the
        counter's row lock is held from here to the commit)."""
        if self.deferred:
            settle(self.session, self.province, max(self._given, 1), self._keys,
                   self._ledger, self._updated)


class DeviceNow(NamedTuple):
    """A batch's device as read again when the batch validates."""

    province_code: str
    commune_code: str
    revoked: bool


class StaleRead(Exception):
    """A row the batch read changed before the batch took its change numbers."""


# PostgreSQL: the SQLSTATE of a check that failed in the database (``a0_assert``,
# migration 0024): a row the batch read or wrote changed meanwhile, as StaleRead
ASSERT_FAILED = "A0001"


def stale(error: Exception) -> bool:
    """Something a batch (or a refold) read changed before it could commit: a row checked
    in Python (:class:`StaleRead`) or in the database (``a0_assert``), or a row it
    inserted that another inserted first. It starts again."""
    return isinstance(error, StaleRead | IntegrityError) or getattr(
        getattr(error, "orig", None), "sqlstate", None) == ASSERT_FAILED


class Workset:
    def __init__(self, session: Session, sequencer: Sequencer) -> None:
        self.session = session
        self.sql = statements(session)
        self.next_seq = sequencer
        self.rows: dict[str, dict[str, dict[str, Any] | None]] = {k: {} for k in MODELS}
        self.new: dict[str, set[str]] = {k: set() for k in MODELS}
        self.dirty: dict[str, set[str]] = {k: set() for k in MODELS}
        self.aliases: dict[str, str] = {}
        self._alias_checked: set[str] = set()
        self.reproject: set[str] = set()
        # persons whose facts changed, refolded after the commit (server.sync.refold), or
        # None: refolded with the batch. A batch's own writes need only the household a
        # person lives in from the refold, and an event other than a household change
        # does not move it: the rest (method, children, residence…) can be seconds late
        self.later: set[str] | None = None
        self.created: list[str] = []  # ids that came into existence, for waiting operations
        # what was read, for validate(): change numbers (None: missing) and live members;
        # nothing to check on SQLite, where the batch holds the write lock from the start
        self.read: dict[str, dict[str, int | None]] | None = (
            {k: {} for k in MODELS} if self.sql.dialect == "postgresql" else None)
        self._members_read: dict[str, set[str]] = {}
        # households' and members' columns as loaded: an update writes only what changed
        self._loaded: dict[str, dict[str, Any]] = {}
        self.written: dict[str, set[str]] = {k: set() for k in MODELS}
        self.prefetched: dict[str, set[str]] = {}  # ids asked for by prefetch_all, by kind

    # ------------------------------------------------------------------ reads

    def prefetch(self, kind: str, ids: Iterable[str]) -> None:
        wanted = {i for i in ids if i not in self.rows[kind]}
        if not wanted:
            return
        for chunk in chunks(sorted(wanted)):
            result = self.session.execute(self.sql.rows_by_id[kind], self.sql.ids(chunk))
            self._rows(kind, list(result.keys()), result)
        self._missing(kind, wanted)

    def _found(self, kind: str, wanted: set[str], names: list[str],
               rows: Iterable[Any]) -> None:
        """The answer of a deferred :meth:`prefetch` (see :meth:`prefetch_all`)."""
        self._rows(kind, names, rows)
        self._missing(kind, wanted)

    def _rows(self, kind: str, names: list[str], rows: Iterable[Any]) -> None:
        for row in rows:
            found = dict(zip(names, row, strict=True))
            self.rows[kind][found["id"]] = found
            if kind in ENTITY_KINDS:
                self._loaded[found["id"]] = dict(found)

    def _missing(self, kind: str, wanted: set[str]) -> None:
        """Note as missing what was looked up and not found, and what was read."""
        for i in wanted:
            self.rows[kind].setdefault(i, None)
        if self.read is not None:
            read = self.read[kind]
            for i in wanted:
                row = self.rows[kind][i]
                read[i] = None if row is None else row["seq"]

    def prefetch_all(self, wanted: dict[str, set[str]], aliased: set[str]) -> None:
        """Load the rows of ``wanted`` ids by kind, and the aliases of ``aliased``, with one
        statement saying which exist (and the aliases) and one per kind with rows found.

        In the steady state most ids a batch names are new (events, hand-outs): they
        cost no look-up of their own. Too many ids for one statement: kind by kind."""
        self.prefetched = wanted
        todo = {kind: {i for i in ids if i not in self.rows[kind]}
                for kind, ids in wanted.items()}
        fresh = {i for i in aliased if i not in self._alias_checked}
        if max(len(fresh), *map(len, todo.values())) > IN_CHUNK:
            self.prefetch_aliases(fresh)
            for kind, ids in todo.items():
                self.prefetch(kind, ids)
            return
        if pipelined(self.session):  # PostgreSQL: every look-up in the next round trip
            for kind, ids in todo.items():
                if ids:
                    defer_read(self.session, self.sql.rows_by_id[kind],
                               self.sql.ids(sorted(ids)), partial(self._found, kind, ids))
            if fresh:
                defer_read(self.session, self.sql.aliases, self.sql.ids(sorted(fresh)),
                           lambda _names, rows: self.aliases.update(rows))
                self._alias_checked |= fresh
            return
        params = {f"ids_{kind}": self.sql.ids(sorted(todo.get(kind, ())))["ids"]
                  for kind in MODELS}
        params["ids_alias"] = self.sql.ids(sorted(fresh))["ids"]
        params["device"] = None
        found: dict[str, set[str]] = {kind: set() for kind in MODELS}
        for kind, entity_id, _seq, survivor in self.session.execute(self.sql.still_read,
                                                                    params):
            if kind == "alias":
                self.aliases[entity_id] = survivor
            else:
                found[kind].add(entity_id)
        self._alias_checked |= fresh
        for kind, ids in todo.items():
            self.prefetch(kind, found[kind])  # sets what it did not find to None, read or not
            for i in ids - found[kind]:
                self.rows[kind][i] = None
                if self.read is not None:
                    self.read[kind][i] = None

    def prefetch_aliases(self, ids: Iterable[str]) -> None:
        wanted = {i for i in ids if i not in self._alias_checked}
        self._alias_checked |= wanted
        for chunk in chunks(sorted(wanted)):
            self.aliases.update(self.session.execute(self.sql.aliases, self.sql.ids(chunk)).all())

    def resolve(self, entity_id: str) -> str:
        """The surviving id of a merged duplicate (chains are followed)."""
        if entity_id in self._alias_checked and entity_id not in self.aliases:
            return entity_id  # the common case: looked up already, no alias
        self.prefetch_aliases([entity_id])
        seen = set()
        while entity_id in self.aliases and entity_id not in seen:
            seen.add(entity_id)
            entity_id = self.aliases[entity_id]
            self.prefetch_aliases([entity_id])
        return entity_id

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        if entity_id not in self.rows[kind]:
            self.prefetch(kind, [entity_id])
        return self.rows[kind][entity_id]

    def live_members_of(self, household_id: str) -> list[str]:
        in_db = self.session.scalars(select(Member.id).where(
            Member.household_id == household_id, ~Member.deleted)).all()
        if self.read is not None:
            self._members_read[household_id] = set(in_db)
        ids = set(in_db) | {i for i, r in self.rows["member"].items()
                            if r and r["household_id"] == household_id}
        return [i for i in ids if not (self.get("member", i) or {}).get("deleted")]

    def validate(self, device: str | None = None,
                 check_device: Callable[[DeviceNow | None], None] | None = None) -> bool:
        """Raise :class:`StaleRead` if a row read and not written changed (another change
        number, there now, gone), an alias appeared, or a household read has other
        members now than the batch left it with. The rows the batch wrote were checked
        as they were written (:meth:`flush`: an update only of the row as read, an
        insert only of a row still missing).

        ``device``: the batch's device is read in the same statement and given to
        ``check_device`` first (None: it has no row). Returns False if nothing was
        read (SQLite, where the batch held the write lock from the start): then the
        caller reads the device itself."""
        read = self._unwritten()
        if read is None:
            return False
        # every table in one statement: on PostgreSQL each statement is a round trip
        params = {f"ids_{kind}": self.sql.ids(sorted(seqs))["ids"]
                  for kind, seqs in read.items() if seqs}
        params["ids_alias"] = self.sql.ids(sorted(self._alias_checked))["ids"]
        params["device"] = device
        now: dict[str, dict[str, Any]] = {kind: {} for kind in (*read, "alias")}
        device_now = None
        stmt = self.sql.still_read_of(kind for kind, seqs in read.items() if seqs)
        for kind, entity_id, seq, survivor in self.session.execute(stmt, params):
            if kind == "device":
                device_now = DeviceNow(entity_id, survivor, bool(seq))
            else:
                now[kind][entity_id] = survivor if kind == "alias" else seq
        if check_device is not None:
            check_device(device_now)
        for kind, seqs in read.items():
            if any(now[kind].get(i) != seq for i, seq in seqs.items()):
                raise StaleRead(kind)
        if now["alias"] != {i: self.aliases[i] for i in self._alias_checked  # merged meanwhile
                            if i in self.aliases}:
            raise StaleRead("alias")
        for household_id, members in self._members_read.items():
            expected = set(members)
            for member_id in self.written["member"]:  # as this batch left them
                row = self.rows["member"][member_id] or {}
                if row.get("household_id") == household_id and not row.get("deleted"):
                    expected.add(member_id)
                else:
                    expected.discard(member_id)
            if set(self.session.scalars(select(Member.id).where(
                    Member.household_id == household_id, ~Member.deleted))) != expected:
                raise StaleRead("member")
        return True

    def validate_later(self, device: str, province: str, commune: str,
                       revoked_ok: bool) -> bool:
        """:meth:`validate` as a statement that fails in the database
        (:func:`~server.sync.statements.unchanged`), sent with the statements queued
        (PostgreSQL, deferring): the batch's settle step, this check and its COMMIT then
        go in one round trip, and the province's counter is held by the database alone,
        not while a worker wakes up to read an answer. The device is where it was when
        the batch began (``province``, ``commune``; revoked only if ``revoked_ok``).
        False, nothing done: the caller validates (SQLite; or a household's members were
        read, which are compared here)."""
        if self.read is None or self._members_read or not pipelined(self.session):
            return False
        read = self._unwritten()
        assert read is not None
        kinds = tuple(kind for kind, seqs in read.items() if seqs)
        params: dict[str, Any] = {"device": device, "province": province,
                                  "commune": commune, "revoked_ok": revoked_ok}
        for kind in kinds:
            ids = sorted(read[kind])
            params[f"ids_{kind}"], params[f"seqs_{kind}"] = ids, [read[kind][i] for i in ids]
        aliased = sorted(self._alias_checked)
        params["alias_ids"] = aliased
        params["alias_survivors"] = [self.aliases.get(i) for i in aliased]
        return defer_statement(self.session, unchanged(kinds), params)

    def _unwritten(self) -> dict[str, dict[str, int | None]] | None:
        """What was read and not written, once (None: nothing to check, SQLite)."""
        read, self.read = self.read, None
        if read is None:
            return None
        return {kind: {i: seq for i, seq in seqs.items() if i not in self.written[kind]}
                for kind, seqs in read.items()}

    # ----------------------------------------------------------------- writes

    def add(self, kind: str, row: dict[str, Any]) -> None:
        self.rows[kind][row["id"]] = row
        self.new[kind].add(row["id"])
        self.created.append(row["id"])

    def touch(self, kind: str, entity_id: str) -> None:
        if entity_id not in self.new[kind]:
            self.dirty[kind].add(entity_id)

    def flush(self) -> None:
        """Refold the members whose facts changed (from the events stored and the batch's
        own, in memory), then write every change. Nothing is written before the refold's
        look-up, so on PostgreSQL every write can wait for the batch's settle step
        (:meth:`Sequencer.holds`)."""
        if self.later:
            self.later -= self.reproject  # refolded now anyway
        self._refold()
        for kind in ("household", "event", "distribution", "p0_report", "stock_movement",
                     "member"):
            self._write(kind)

    def _write(self, kind: str) -> None:
        model = MODELS[kind]
        now = utcnow()
        inserts, updates = [], []
        held = self.next_seq.holds()  # written once, with the final numbers
        for entity_id in sorted(self.new[kind] | self.dirty[kind]):
            row = self.rows[kind][entity_id]
            if row is None:
                continue
            row["seq"] = self.next_seq()
            if not held:
                self.next_seq.numbered(kind, entity_id)
            row["updated_at"] = now
            if kind == "household":
                row.update(household_columns(row["data"]))
            (inserts if entity_id in self.new[kind] else updates).append(row)
            self.written[kind].add(entity_id)
        if inserts:
            for row in inserts:
                row.setdefault("created_at", now)
            insert_rows(self.session, model, inserts, at_settle=held)
        if updates:
            changed = [self._changed(row) for row in updates]
            read = self.read[kind] if self.read is not None else None
            if read is not None:  # only the row as read: else another batch wrote it since
                changed = [{**row, GUARD: read[row["id"]]} for row in changed]
            # a guarded update that wrote fewer rows: StaleRead (maybe at the next look-up;
            # held for the settle step, a check there that fails in the database)
            update_rows(self.session, model, changed,
                        short=StaleRead(kind) if read is not None else None, at_settle=held)
            if held and read is not None:
                self.next_seq.updated(kind, [(row["id"], row["seq"]) for row in changed])
        self.new[kind].clear()
        self.dirty[kind].clear()

    def _changed(self, row: dict[str, Any]) -> dict[str, Any]:
        """The columns of ``row`` to write: those that differ from the row as loaded, and
        any JSON value (changed in place, so it cannot be compared). A member's update
        writing every column made SQLite rewrite each of its indexes (duplicate blocking
        keys, personal id…), the costliest statement of a monthly batch; rows with the
        same changed columns still share one ``executemany``."""
        loaded = self._loaded.get(row["id"])
        if loaded is None:
            return row
        return {k: v for k, v in row.items() if k == "id" or isinstance(v, dict | list)
                or k not in loaded or loaded[k] != v}

    def refold_after(self, member_id: str) -> None:
        """Refold ``member_id`` after the commit (:attr:`later`) if this workset may,
        else with its writes."""
        (self.later if self.later is not None else self.reproject).add(member_id)

    def refold_now(self, members: set[str]) -> set[str]:
        """Refold ``members`` (not deleted, not merged away) outside a batch and write those
        whose row the fold changes; return their ids (:mod:`server.sync.refold`)."""
        self.prefetch("member", members)
        self.reproject = {i for i in members if (row := self.rows["member"].get(i))
                          and not row["deleted"] and not row.get("merged_into")}
        self._refold(changed_only=True)
        self._write("member")
        return set(self.written["member"])

    def _refold(self, changed_only: bool = False) -> None:
        """Fold every member whose facts changed, from their events: those stored, and the
        batch's own, not written yet (``changed_only``: write only those whose columns
        the fold changes)."""
        ids = sorted(self.reproject)
        if not ids:
            return
        self.prefetch("member", ids)
        # the batch's events, new or changed (a void), as they will be written: these ids
        # as stored are left out of what the database answers
        mine = {i: self.rows["event"][i] for i in self.new["event"] | self.dirty["event"]}
        by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in mine.values():
            if event is not None and not event["voided"]:
                by_member[event["member_id"]].append(event)
        own: dict[str, list[EventRef]] = defaultdict(list)
        child_deaths: dict[str, list[EventRef]] = defaultdict(list)
        for chunk in chunks(ids):
            # their events, and the deaths of their children, as stored
            for row in self.session.execute(self.sql.facts_of, self.sql.ids(chunk)):
                if row.id not in mine:
                    (own[row.member_id] if row.mother is None
                     else child_deaths[row.mother]).append(_ref(row))
        folded = set(ids)
        for member_id in ids:
            own[member_id] += [_ref(e) for e in by_member.get(member_id, ())]
        # deaths of children arriving with this batch: of a child stored (its stored deaths
        # came with the look-up above), or of one the batch creates, refolded too (its
        # events are in ``own`` already) or not (its stored deaths looked up)
        unread: dict[str, str] = {}
        for child_id in self.new["member"] | by_member.keys():
            mother = (self.rows["member"].get(child_id) or {}).get("mother_id")
            if mother not in folded:
                continue
            deaths = [_ref(e) for e in by_member.get(child_id, ()) if e["form"] == "death"]
            if child_id not in self.new["member"]:
                child_deaths[mother] += deaths
            elif child_id in folded:
                child_deaths[mother] += [e for e in own[child_id] if e.form == "death"]
            else:
                unread[child_id] = mother
                child_deaths[mother] += deaths
        for chunk in chunks(sorted(unread)):
            for row in self.session.execute(self.sql.deaths_of, self.sql.ids(chunk)):
                if row.id not in mine:
                    child_deaths[unread[row.member_id]].append(_ref(row))
        for member_id in ids:
            row = self.rows["member"].get(member_id)
            if row is None:
                continue
            state = member_state(member_id, row["data"], row["clocks"], own.get(member_id, []),
                                 child_deaths.get(member_id, []))
            columns = member_columns(row["data"], state)
            if changed_only and all(row.get(k) == v for k, v in columns.items()):
                continue
            row.update(columns)
            self.touch("member", member_id)
        self.reproject.clear()


def _ref(event: Any) -> EventRef:
    """An event (a row as stored, or one of the batch's) as the fold takes it."""
    if isinstance(event, dict):
        return EventRef(event["form"], event["payload"], event["hlc"], event["device_id"])
    return EventRef(event.form, event.payload, event.hlc, event.device_id)
