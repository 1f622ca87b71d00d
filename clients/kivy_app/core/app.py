"""The app's core: enrol, unlock, write offline, sync, export — no Kivy here.

The UI calls :class:`AppCore` and nothing else. Every local change goes, in one
store transaction, to the register, to the outbox (next sequence number, fresh
HLC stamp, operation built by :func:`a0core.sync_client.make_op`) and to the
sequence counter. Sync seals the outbox into batches with the client library,
sends them, records each operation's verdict, then pulls the area's changes
page by page (the cursor is saved after each page, so a first download that is
cut off resumes where it stopped).

The sync client and the envelope's keys (:mod:`a0core.sync_client`,
:mod:`a0core.envelope`: HTTP, e-mail dates, public-key cryptography) are imported
where they are first used, not with this module: unlocking and the household list
need none of them, and a cold start does not wait for them.
"""

from __future__ import annotations

import datetime as dt
import platform
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a0core import p0, vntime
from a0core.applicability import applicability
from a0core.errors import A0Error
from a0core.hlc import HybridClock, physical_ms, wall_ms
from a0core.projection import child_from_birth
from clients.kivy_app.core import clock as clocks
from clients.kivy_app.core import notices, suggest
from clients.kivy_app.core import stock as bag
from clients.kivy_app.core.crypto import check_pin
from clients.kivy_app.core.formview import FormView
from clients.kivy_app.core.monthly import MonthView
from clients.kivy_app.core.outbox import (
    IN_BATCH,
    PENDING,
    QUEUED,
    REJECTED,
    RESENDABLE,
    RESTAMPED,
    SENT,
    UNSETTLED,
    next_state,
)
from clients.kivy_app.core.register import Entity, Register
from clients.kivy_app.core.store import Store

if TYPE_CHECKING:
    from a0core.envelope import DeviceKeys
    from a0core.sync_client import RetryPolicy, SyncClient, Transport

STORE_FILE = "a0sync-app.sqlite"
MAX_BATCH_OPS = 200
OFFLINE_CODES = {"network_unavailable"}
# the batch left whole, but no answer (or no valid receipt) came back: the server may have it
ANSWER_LOST = {"server_no_answer", "receipt_signature_invalid", "receipt_mismatch",
               "response_malformed"}


@dataclass
class SaveResult:
    """What a form's save did: the record id, or the errors to show beside the fields;
    ``warnings``: saved, but the collaborator should check these (the server will say
    the same in its verdict)."""

    id: str | None
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    op: dict[str, Any] | None = None
    warnings: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class SyncReport:
    sent_ops: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    pulled: int = 0
    pages: int = 0
    error: A0Error | None = None
    notices: list[dict[str, Any]] = field(default_factory=list)
    restamped: int = 0  # operations sent again once the phone's clock was right
    clock_error: A0Error | None = None  # refused for a clock ahead, and still wrong

    @property
    def offline(self) -> bool:
        return self.error is not None and self.error.code in OFFLINE_CODES


class AppCore:
    """One collaborator's device: its encrypted store, register, outbox and sync client."""

    def __init__(self, data_dir: Path | str, *, transport: Transport | None = None,
                 retry: RetryPolicy | None = None, kdf_n: int = 2 ** 15,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / STORE_FILE
        self.transport = transport
        self.retry = retry
        self.kdf_n = kdf_n
        self.now_ms = now_ms
        self.store: Store | None = None
        self.register = Register()
        self.profile: dict[str, Any] = {}
        self.clock = HybridClock()
        self._client: SyncClient | None = None
        # seq -> (entity id, fields) of upserts not yet settled: the fields pulls must not touch
        self._unsettled: dict[int, tuple[str, frozenset[str]]] = {}
        self.sync_lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    @property
    def enrolled(self) -> bool:
        return Store.exists(self.path)

    @property
    def unlocked(self) -> bool:
        return self.store is not None

    def enrol(self, server_url: str, code: str, pin: str, pin_again: str | None = None,
              label: str | None = None) -> dict[str, Any]:
        """Enrol with a one-time code, then create the store under the PIN.

        Nothing is written before the server says yes, so a refused code leaves the
        device as it was. The server answers a repeated request (same code, same
        keys) the same, and the client retries with backoff, so a lost answer on a
        bad line does not burn the code.
        """
        from a0core.envelope import DeviceKeys
        from a0core.sync_client import RemoteError, SyncClient

        check_pin(pin)
        if pin_again is not None and pin_again != pin:
            raise A0Error("app_pin_mismatch")
        keys = DeviceKeys.generate()
        clock = self._new_clock(0)
        try:
            answer = SyncClient.enrol(server_url, code.strip(), keys,
                                      label or f"a0sync app ({platform.node() or 'phone'})",
                                      clock.now(), transport=self.transport, retry=self.retry)
        except RemoteError as error:  # the phone's clock is ahead: say how to set it
            if error.code == clocks.CLOCK_CODE and "server_time_ms" in error.details:
                raise clocks.wrong_clock(clock.wall(), int(error.details["server_time_ms"])) \
                    from error
            raise
        clock.observe(int(answer.get("server_hlc") or 0))
        self.provision(server_url, answer, keys, pin, clock.last)
        return answer

    def provision(self, server_url: str, enrolment: Mapping[str, Any], keys: DeviceKeys,
                  pin: str, hlc: int = 0) -> None:
        """Create the store for an enrolment answer and unlock it (also used to prepare
        devices for benchmarks)."""
        store = Store.create(self.path, pin, kdf_n=self.kdf_n)
        profile = {"server_url": server_url.rstrip("/"), "enrolment": dict(enrolment),
                   "keys": keys.to_dict(), "server_keys": [enrolment["server_key"]],
                   "current_kid": enrolment["server_key"]["kid"]}
        with store.transaction():
            store.put_sealed("profile", profile)
            store.put_clear("seq", 0)
            store.put_clear("cursor", 0)
            store.put_clear("hlc", hlc)
        store.close()
        self.unlock(pin)

    def unlock(self, pin: str) -> None:
        """Open the store with the PIN and load the register into memory."""
        store = Store.open(self.path, pin)
        self.store = store
        self.profile = store.get_sealed("profile") or {}
        if not self.profile:
            raise A0Error("app_not_enrolled")
        self.clock = self._new_clock(int(store.get_clear("hlc", 0)))
        reg = Register()
        for kind, id_, blob in store.entities():
            reg.entities[id_] = Entity.from_blob(kind, id_, blob)
        for _kind, id_, blob in store.facts():
            reg.facts[id_] = blob
        reg.aliases = store.aliases()
        self.register = reg
        self._unsettled = {}
        for seq, _state, _batch, row in store.outbox(UNSETTLED):
            op = row["op"]
            if op["type"] == "upsert":
                self._unsettled[seq] = (op["id"], frozenset(op["fields"]))

    def lock(self) -> None:
        if self.store is not None:
            self.store.close()
        self.store = None
        self.register = Register()
        self._client = None

    def _new_clock(self, last: int) -> HybridClock:
        return HybridClock(self.now_ms, last) if self.now_ms else HybridClock(last=last)

    @property
    def client(self) -> SyncClient | None:
        """The sync client (None while locked), made when first needed."""
        if self._client is None and self.store is not None:
            from a0core.envelope import DeviceKeys, ServerPublicKey
            from a0core.sync_client import SyncClient

            keys = [ServerPublicKey.from_dict(k) for k in self.profile["server_keys"]]
            current = next(k for k in keys if k.kid == self.profile["current_kid"])
            self._client = SyncClient(
                self.profile["server_url"], self.device_id,
                DeviceKeys.from_dict(self.profile["keys"]), current, known_server_keys=keys,
                clock=self.clock, transport=self.transport, retry=self.retry)
        return self._client

    def _store(self) -> Store:
        if self.store is None:
            raise A0Error("app_not_enrolled")
        return self.store

    # --------------------------------------------------------------- who/where

    @property
    def device_id(self) -> str:
        return self.profile["enrolment"]["device_id"]

    @property
    def area(self) -> dict[str, str]:
        return self.profile["enrolment"]["area"]

    @property
    def collaborator(self) -> dict[str, Any]:
        return self.profile["enrolment"]["collaborator"]

    @property
    def villages(self) -> list[dict[str, str]]:
        """Villages a household may be filed under, by name (the area's own first)."""
        return list(self.profile["enrolment"].get("villages") or [])

    # ---------------------------------------------------------- local writes

    def keep(self, entity_id: str) -> set[str]:
        """Fields of ``entity_id`` with a local write the server has not settled."""
        out: set[str] = set()
        for eid, names in self._unsettled.values():
            if eid == entity_id:
                out |= names
        return out

    def _append_op(self, type_: str, form: tuple[str | None, int | None], id_: str,
                   fields: Mapping[str, Any], base: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
        """Next sequence number and HLC stamp, one operation of ``form`` (id, version; none
        for a void) in the outbox, in the caller's transaction."""
        from a0core.sync_client import make_op

        store = self._store()
        seq = int(store.get_clear("seq", 0)) + 1
        op = make_op(seq, self.clock.now(), type_, form[0], form[1], id_,  # type: ignore[arg-type]
                     fields, base or None)
        store.put_clear("seq", seq)
        store.put_clear("hlc", self.clock.last)
        store.put_outbox(seq, id_, PENDING, None, {"op": op, "verdict": None})
        if type_ == "upsert":
            self._unsettled[seq] = (id_, frozenset(fields))
        return op

    def _put_entity(self, entity: Entity) -> None:
        self._store().put_entity(entity.kind, entity.id, entity.household_id, entity.to_blob())

    def person(self, member_id: Any) -> dict[str, Any] | None:
        """What applicability rules read of a member: the record and its folded state."""
        member = self.register.get(member_id) if isinstance(member_id, str) else None
        if member is None or member.kind != "member":
            return None
        return suggest.person(self.register, member)

    def _check(self, fv: FormView, record: Mapping[str, Any]
               ) -> tuple[dict[str, Any] | None, dict[str, list[tuple[str, str]]]]:
        """The form's own checks, then whether it applies to its person (the server's
        ``not_applicable``, said here before anything is sent)."""
        with vntime.corrected(self.date_offset_ms()):
            clean, errors = fv.check(record)
        rules = applicability()
        rule = rules.rule(fv.id)
        if clean is not None and rule is not None:
            found = rules.check(fv.id, clean, self.person(clean.get(rule.subject)))
            if found is not None:
                error = found.error()
                return None, {found.field: [(error.vi, error.en)]}
        return clean, errors

    def save_entity(self, form_id: str, values: Mapping[str, Any], entity_id: str | None = None,
                    context: Mapping[str, Any] | None = None) -> SaveResult:
        """Create (``entity_id`` None) or edit a household, member or woman's status.

        An edit sends only the fields that changed, each with the stamp of the value
        that was on screen (``base``), which is how the server tells a concurrent
        edit (a conflict) from a later one.
        """
        checked = self._check_entity(form_id, values, entity_id, context)
        if isinstance(checked, SaveResult):
            return checked
        fv, target, changed, entity, warnings = checked
        with self._store().transaction():
            op = self._write_entity(fv, target, changed, entity)
        self.register.changed()
        return SaveResult(target, op=op, warnings=warnings)

    def _check_entity(self, form_id: str, values: Mapping[str, Any], entity_id: str | None,
                      context: Mapping[str, Any] | None
                      ) -> SaveResult | tuple[FormView, str, dict[str, Any], Entity, Any]:
        """(form, id, changed fields, entity, warnings) of a valid entity write, or the
        result to show (errors, or nothing changed)."""
        fv = FormView(form_id)
        kind, key = fv.form.entity or form_id, fv.form.key_field or "id"
        names = {f.name for f in fv.form.fields}
        existing = self.register.get(entity_id) if entity_id else None
        if entity_id is not None and existing is None:
            raise A0Error("not_found")
        if existing is None:
            record = {**(context or {}), **fv.new_ids(), **values}
            if kind == "household":
                record.setdefault("area_code", self.area["code"])
            current: dict[str, Any] = {}
        else:
            current = {k: v for k, v in existing.data.items() if k in names}
            record = {**current, **(context or {}), **values, key: existing.id}
        clean, errors = self._check(fv, record)
        if errors or clean is None:
            return SaveResult(entity_id, errors)
        target = clean[key]
        changed = {k: v for k, v in clean.items() if k != key and current.get(k) != v}
        changed.update({k: None for k in current if k not in clean and k != key})
        if not changed:
            return SaveResult(target)
        return (fv, target, changed, existing or Entity(kind, target, local_only=True),
                fv.warnings(clean, None if existing is None else changed))

    def _write_entity(self, fv: FormView, target: str, changed: dict[str, Any],
                      entity: Entity) -> dict[str, Any]:
        """The register row and its outbox operation (in the caller's transaction)."""
        base = {k: entity.clocks[k] for k in changed if k in entity.clocks}
        op = self._append_op("upsert", (fv.id, fv.version), target, changed, base)
        entity.write(changed, (op["hlc"], self.device_id))
        self.register.entities[entity.id] = entity
        self._put_entity(entity)
        return op

    def record_fact(self, form_id: str, values: Mapping[str, Any],
                    context: Mapping[str, Any]) -> SaveResult:
        """An event of the change slip, a distribution or a stock movement: append-only,
        sent whole. A distribution beyond the stock on hand is refused, with the balance."""
        fv, clean, errors = self._check_fact(form_id, values, context)
        if clean is None:
            return SaveResult(None, errors)
        if fv.form.kind == "distribution":
            short = bag.shortage(self.register.facts, self.area["code"], clean["method"],
                                 int(clean["quantity"]))
            if short is not None:
                return SaveResult(None, {"quantity": [short]})
        with self._store().transaction():
            op = self._write_fact(fv, clean)
        self.register.changed()
        return SaveResult(clean["id"], op=op)

    def _check_fact(self, form_id: str, values: Mapping[str, Any], context: Mapping[str, Any]
                    ) -> tuple[FormView, dict[str, Any] | None, dict[str, list[tuple[str, str]]]]:
        fv = FormView(form_id)
        record = {**fv.new_ids(), **context, **values}
        if fv.form.kind == "distribution" or (fv.form.kind == "stock"
                                              and fv.id != "stock_confirm"):
            record.setdefault("area_code", self.area["code"])
        clean, errors = self._check(fv, record)
        return fv, clean, errors

    def _write_fact(self, fv: FormView, clean: dict[str, Any]) -> dict[str, Any]:
        type_ = fv.form.kind if fv.form.kind in ("distribution", "stock") else "event"
        op = self._append_op(type_, (fv.id, fv.version), clean["id"], clean)
        fact = {"form": fv.id, "version": fv.version, "record": clean, "voided": False,
                "hlc": op["hlc"], "device": self.device_id}
        self.register.facts[clean["id"]] = fact
        self._store().put_fact(type_, clean["id"], clean.get("household_id"), fact)
        if fv.id == "birth":
            self._local_child(clean, op["hlc"])
        return op

    def split_household(self, household_id: str, member_ids: list[str], day: str,
                        number: str) -> SaveResult:
        """Split ``member_ids`` off to a new household from ``day`` on: the household
        record, a dated change of household for each of them, and the first of them as
        the new head — one unit of work, all checked before anything is written."""
        old = self.register.get(household_id)
        if old is None:
            raise A0Error("not_found")
        staying = {m.id for m in self.register.members_of(old.id)}
        if not member_ids:
            raise A0Error("app_split_nobody")
        if staying <= set(member_ids):
            raise A0Error("app_split_everybody")
        head = member_ids[0]
        household = self._check_entity("household", {
            "number": number, "head_member_id": head,
            **{k: old.data[k] for k in ("village_code", "address") if old.data.get(k)}},
            None, None)
        if isinstance(household, SaveResult):
            return household
        moves = []
        for member_id in member_ids:
            fv, clean, errors = self._check_fact("household_change", {
                "event_date": day, "to_household_id": household[1], "reason": "split_off"},
                {"household_id": old.id, "member_id": member_id})
            if clean is None:
                return SaveResult(None, errors)
            moves.append((fv, clean))
        relation = self._check_entity("member", {"relation": "head"}, head, None)
        with self._store().transaction():
            op = self._write_entity(*household[:4])
            for fv, clean in moves:
                self._write_fact(fv, clean)
            if not isinstance(relation, SaveResult):
                self._write_entity(*relation[:4])
        self.register.changed()
        return SaveResult(household[1], op=op)

    # ------------------------------------------------------- the monthly P0 slip

    def today(self) -> dt.date:
        """Today in Vietnam by this device's clock, corrected by the offset to the
        server's that the last sync measured (:meth:`date_offset_ms`)."""
        return vntime.day_at(wall_ms(), self.date_offset_ms())

    def slip_months(self, back: int = 12) -> list[MonthView]:
        """The months to close or closed, newest first: the last month that has ended,
        and any of the ``back`` months before it with an entry, a slip or a word from
        the server."""
        store = self._store()
        slips, server = store.get_sealed("p0_slips") or {}, store.get_sealed("p0_server") or {}
        last = p0.last_closed_month(self.today())
        first = p0.shift(last, 1 - back)
        dated = {p0.entry_date(f["record"])[:7] for f in self.register.facts.values()
                 if not f.get("voided")}
        months = {m for m in dated | set(slips) | set(server) if first <= m <= last} | {last}
        return [MonthView(m, self.register.month_counts(m), slips.get(m), server.get(m))
                for m in sorted(months, reverse=True)]

    def close_month(self, month: str) -> SaveResult:
        """Close the P0 slip of ``month`` as this device holds it (a nil report when
        nothing happened); closing again after a correction sends a new slip."""
        today = self.today()
        if not p0.month_over(month, today):
            raise A0Error("report_month_open", month=p0.vietnamese_month(month))
        fv = FormView(p0.SLIP_FORM)
        counts = self.register.month_counts(month)
        with vntime.corrected(self.date_offset_ms()):
            clean, errors = fv.check({**fv.new_ids(), "area_code": self.area["code"],
                                      "month": month, "closed_on": today.isoformat(),
                                      **counts})
        if clean is None:
            return SaveResult(None, errors)
        store = self._store()
        with store.transaction():
            op = self._append_op("report", (fv.id, fv.version), clean["id"], clean)
            slips = store.get_sealed("p0_slips") or {}
            slips[month] = {"id": clean["id"], "counts": counts, "closed_on": clean["closed_on"],
                            "seq": op["seq"]}
            store.put_sealed("p0_slips", slips)
        return SaveResult(clean["id"], op=op)

    def _local_child(self, birth: dict[str, Any], hlc: int) -> None:
        """Show the newborn at once, as the server will create it from the birth (same
        record, same stamps), so the pulled copy merges without a change."""
        mother = self.register.get(birth["member_id"])
        if mother is None or self.register.get(birth["child_id"]) is not None:
            return
        data = child_from_birth(birth, mother.data)
        data.pop("id")
        child = Entity("member", birth["child_id"], local_only=True)
        child.write(data, (hlc, self.device_id))
        self.register.entities[child.id] = child
        self._put_entity(child)

    def stock_on_hand(self) -> dict[str, int]:
        """Stock on hand per method (those the phone keeps a ledger for)."""
        return bag.on_hand(self.register.facts, self.area["code"])

    def transfers_to_confirm(self) -> list[Mapping[str, Any]]:
        """What the station issued to this area that the phone has not confirmed."""
        return bag.to_confirm(self.register.facts, self.area["code"])

    def void(self, target: str, fact_id: str, reason: str) -> dict[str, Any]:
        """Withdraw an event or distribution recorded in error."""
        fact = self.register.facts[fact_id]
        store = self._store()
        with store.transaction():
            op = self._append_op("void", (None, None), fact_id,
                                 {"target": target, "reason": reason})
            fact["voided"] = True
            store.put_fact(target, fact_id, fact["record"].get("household_id"), fact)
        self.register.changed()
        return op

    # ------------------------------------------------------------ the outbox

    def outbox_counts(self) -> dict[str, int]:
        return self._store().outbox_counts()

    def states_of(self, record_ids: list[str]) -> dict[str, str]:
        """Where each record's last change made here stands (records from elsewhere: none)."""
        return self._store().states_of(record_ids)

    def outbox_rows(self, limit: int = 300) -> list[dict[str, Any]]:
        """Newest first: seq, state, the operation, its verdict (with the reason if refused)."""
        return [{"seq": seq, "state": state, "batch": batch, **row}
                for seq, state, batch, row in self._store().outbox(limit=limit, newest_first=True)]

    def rejected(self) -> list[dict[str, Any]]:
        """Refused operations the collaborator must fix (not those fixed since, nor those
        refused for the phone's clock: they are sent again by themselves)."""
        fixed = self.fixed()
        return [{"seq": seq, **row} for seq, _s, _b, row in self._store().outbox((REJECTED,))
                if (row["verdict"] or {}).get("code") != clocks.CLOCK_CODE
                and seq not in fixed]

    def fixed(self) -> set[int]:
        """Refused operations whose record the collaborator saved again from the refusal."""
        return set(self._store().get_clear("fixed") or [])

    def mark_fixed(self, seq: int) -> None:
        """The record a refusal opened was saved again (a new operation carries it): the
        refusal stays in the outbox as the server's answer, but is no longer to fix, and
        its notice no longer opens the record (a second fix would record it twice)."""
        self._store().put_clear("fixed", sorted(self.fixed() | {seq}))

    def state_counts(self) -> dict[str, int]:
        """:meth:`outbox_counts` as the collaborator reads them: «refused, needs fixing»
        counts only what is still to fix."""
        counts = {k: v for k, v in self.outbox_counts().items() if k != REJECTED}
        if to_fix := len(self.rejected()):
            counts[REJECTED] = to_fix
        return counts

    def fix_target(self, seq: int) -> dict[str, Any] | None:
        """Where a refused operation's record (or a kept one the server asks to check)
        opens to be fixed: form, id, household, member, the values sent and the server's
        errors (or warnings) per field."""
        from a0core.sync_client import verdict_warnings

        row = next((r for r in self.rejected() if r["seq"] == seq), None)
        if row is None:
            found = self._store().outbox_row(seq)
            row = found if found and verdict_warnings(found["verdict"] or {}) else None
        if row is None:
            return None
        op, verdict = row["op"], row["verdict"] or {}
        errors: dict[str, list[tuple[str, str]]] = {}
        for e in [*(verdict.get("errors") or []), *verdict_warnings(verdict)]:
            errors.setdefault(e.get("field") or "", []).append(
                (e.get("message_vi", ""), e.get("message_en", "")))
        if not errors:
            errors[""] = [(verdict.get("message_vi", ""), verdict.get("message_en", ""))]
        entity = self.register.get(op["id"])
        household = None
        if entity is not None:
            household = entity.household_id
        elif op["type"] in ("event", "distribution"):
            household = op["fields"].get("household_id")
        return {"form": op["form"], "type": op["type"], "id": op["id"], "values": op["fields"],
                "household_id": household, "member_id": op["fields"].get("member_id"),
                "errors": errors}

    def _settle(self, seq: int, state: str, verdict: dict[str, Any], row: dict[str, Any],
                batch: str | None) -> None:
        store = self._store()
        store.put_outbox(seq, row["op"]["id"], state, batch, {**row, "verdict": verdict})
        if state not in UNSETTLED and seq in self._unsettled:
            entity_id, _ = self._unsettled.pop(seq)
            entity = self.register.get(entity_id)
            if entity is not None and entity.settle(self.keep(entity.id)):
                self._put_entity(entity)
                self.register.changed()

    def apply_verdicts(self, verdicts: list[dict[str, Any]]) -> dict[str, int]:
        """Record verdicts (from a receipt or a pull page); returns how many of each."""
        from a0core.sync_client import verdict_warnings

        by_seq = {v["seq"]: v for v in verdicts if isinstance(v.get("seq"), int)}
        counts: dict[str, int] = {}
        if not by_seq:
            return counts
        store = self._store()
        rows = {seq: (state, batch, row) for seq, state, batch, row in store.outbox()
                if seq in by_seq}
        for seq, verdict in sorted(by_seq.items()):
            if seq not in rows:
                continue
            if verdict.get("verdict") == "rejected":  # words even where the server sent none
                verdict = notices.worded(verdict)
            state, batch, row = rows[seq]
            new = next_state(state, verdict)
            counts[verdict.get("verdict", "?")] = counts.get(verdict.get("verdict", "?"), 0) + 1
            if new == state and row.get("verdict") == verdict:
                continue
            self._settle(seq, new, verdict, row, batch)
            if new == REJECTED and verdict.get("code") == clocks.CLOCK_CODE:
                store.add_notice(f"clock:{seq}", notices.clock_refused(self.register, row["op"]))
                if "max_ahead_ms" in verdict:
                    store.put_clear("max_ahead_ms", int(verdict["max_ahead_ms"]))
            elif new == REJECTED:
                store.add_notice(f"rejected:{seq}", notices.rejected(self.register, row["op"],
                                                                     verdict))
            elif warnings := verdict_warnings(verdict):
                store.add_notice(f"warning:{seq}", notices.warned(self.register, row["op"],
                                                                  warnings))
        return counts

    # ----------------------------------------------------------------- sync

    def _batches_to_send(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Batches sealed before (same id, same ops: the server answers its kept receipt),
        then new batches of pending operations, queued under their batch id before they
        leave."""
        from a0core.sync_client import batches_of

        store = self._store()
        resend: dict[str, list[dict[str, Any]]] = {}
        for _seq, _state, batch, row in store.outbox(IN_BATCH):
            resend.setdefault(batch or "", []).append(row["op"])
        out = sorted(resend.items(), key=lambda item: item[1][0]["seq"])
        pending = [row["op"] for _s, _st, _b, row in store.outbox((PENDING,))]
        with store.transaction():
            for run in batches_of(pending, MAX_BATCH_OPS):
                batch_id = str(uuid.uuid4())
                self._mark(run, QUEUED, batch_id)
                out.append((batch_id, list(run)))
        return out

    def _mark(self, ops: list[dict[str, Any]], state: str, batch_id: str) -> None:
        """Put unanswered operations in ``state`` under ``batch_id`` (caller's transaction)."""
        for op in ops:
            self._store().put_outbox(op["seq"], op["id"], state, batch_id,
                                     {"op": op, "verdict": None})

    def send(self, report: SyncReport | None = None) -> SyncReport:
        """Send every batch; then send again, re-stamped, what was refused for a clock
        ahead if the clock is right now (a few rounds at most)."""
        from a0core.sync_client import RemoteError

        report = report or SyncReport()
        client = self.client
        if client is None:
            raise A0Error("app_not_enrolled")
        for _round in range(3):
            header_refused = False
            for batch_id, ops in self._batches_to_send():
                sealed = client.seal(ops, batch_id=batch_id)
                try:
                    receipt = client.send_batch(sealed.envelope)
                except RemoteError as error:
                    if error.code != clocks.CLOCK_CODE:
                        raise
                    self._clock_refused(error.details)  # raises while the clock is wrong
                    header_refused = True
                    break
                except A0Error as error:
                    if error.code in ANSWER_LOST:  # it left whole: the server may have it
                        with self._store().transaction():
                            self._mark(ops, SENT, batch_id)
                    raise
                counts = self.take_receipt(receipt)
                report.sent_ops += len(ops)
                for k, v in counts.items():
                    report.verdicts[k] = report.verdicts.get(k, 0) + v
            restamped = self._restamp_refused(report)
            if not header_refused and not restamped:
                break
        return report

    def take_receipt(self, receipt: Mapping[str, Any]) -> dict[str, int]:
        """Record a batch's receipt: the verdicts, the clock, and the ranges of this phone's
        operations the server says never arrived (:meth:`missing`)."""
        store = self._store()
        with store.transaction():
            counts = self.apply_verdicts(receipt["verdicts"])
            store.put_clear("hlc", self.clock.last)
            store.put_clear("missing", receipt.get("missing") or [])
        return counts

    # ------------------------------------------------------- a clock ahead

    def _max_ahead(self) -> int:
        return int(self._store().get_clear("max_ahead_ms", clocks.DEFAULT_MAX_AHEAD_MS))

    def _server_time(self) -> tuple[int, int] | None:
        """(server's time, this phone's) at the server's last answer."""
        return self.client.http.server_time if self.client is not None else None

    def _clock_refused(self, details: Mapping[str, Any]) -> None:
        """A batch was refused because this phone's clock is ahead: rewind and go on if the
        clock is right now, else stop with what the collaborator must do."""
        if "max_ahead_ms" in details:
            self._store().put_clear("max_ahead_ms", int(details["max_ahead_ms"]))
        seen = self._server_time()
        if seen is None and "server_time_ms" in details:
            seen = (int(details["server_time_ms"]), self.clock.wall())
        if seen is None:
            raise A0Error("server_response_unexpected", status=400)
        if not clocks.sane(seen[1], seen[0], self._max_ahead()):
            raise clocks.wrong_clock(seen[1], seen[0])
        self._rewind(seen[0])

    def _rewind(self, server_ms: int) -> None:
        """Drop the stamps a wrong clock left in the hybrid clock, if any: restart from the
        highest stamp the server still takes (:func:`clocks.good_floor`)."""
        limit = self._max_ahead()
        if physical_ms(self.clock.last) <= server_ms + limit:
            return
        reg, store = self.register, self._store()
        stamps = [c[0] for e in reg.entities.values()
                  for c in (*e.clocks.values(), *e.remote["clocks"].values()) if c]
        stamps += [f.get("hlc") or 0 for f in reg.facts.values()]
        stamps += [row["op"]["hlc"] for _seq, state, _b, row in store.outbox()
                   if state != REJECTED]
        self.clock.rewind(clocks.good_floor(server_ms, limit, stamps))
        store.put_clear("hlc", self.clock.last)

    def _restamp_refused(self, report: SyncReport) -> int:
        """Send again, as new operations with sane stamps, what was refused for a clock
        ahead; the data is the collaborator's, unchanged. Returns how many."""
        store = self._store()
        refused = [(seq, batch, row) for seq, _state, batch, row in store.outbox((REJECTED,))
                   if (row["verdict"] or {}).get("code") == clocks.CLOCK_CODE]
        if not refused:
            return 0
        seen = self._server_time()
        if seen is None:
            return 0
        if not clocks.sane(seen[1], seen[0], self._max_ahead()):
            report.clock_error = clocks.wrong_clock(seen[1], seen[0])
            return 0
        self._rewind(seen[0])
        mapping = {row["op"]["hlc"]: row["new_hlc"] for _s, _st, _b, row in
                   store.outbox((RESTAMPED,)) if "new_hlc" in row}
        with store.transaction():
            for seq, batch, row in refused:
                op = row["op"]
                base = {k: clocks.remap(v, mapping, self.device_id)
                        for k, v in (op.get("base") or {}).items()}
                new = self._append_op(op["type"], (op.get("form"), op.get("version")),
                                      op["id"], op["fields"], base)
                mapping[op["hlc"]] = new["hlc"]
                self._settle(seq, RESTAMPED, row["verdict"], {
                    **row, "restamped_as": new["seq"], "new_hlc": new["hlc"]}, batch)
            self._remap_stamps(mapping)
        report.restamped += len(refused)
        return len(refused)

    def _remap_stamps(self, mapping: Mapping[int, int]) -> None:
        """Local copies of re-stamped writes carry their new stamps (a pulled value must
        compare with what the server holds, not with the refused stamp)."""
        store, device = self._store(), self.device_id
        for entity in self.register.entities.values():
            clocks_now = {k: clocks.remap(v, mapping, device) for k, v in entity.clocks.items()}
            if clocks_now != entity.clocks:
                entity.clocks = clocks_now
                self._put_entity(entity)
        for fact_id, fact in self.register.facts.items():
            if fact.get("device") == device and fact.get("hlc") in mapping:
                fact["hlc"] = mapping[fact["hlc"]]
                store.put_fact(_fact_kind(fact["form"]), fact_id,
                               fact["record"].get("household_id"), fact)
        self.register.changed()

    def pull(self, report: SyncReport | None = None, max_pages: int | None = None) -> SyncReport:
        """Pull pages from the saved cursor until the server has no more (or ``max_pages``)."""
        report = report or SyncReport()
        client = self.client
        if client is None:
            raise A0Error("app_not_enrolled")
        store = self._store()
        while max_pages is None or report.pages < max_pages:
            page = client.pull(int(store.get_clear("cursor", 0)))
            with store.transaction():
                report.notices += self.apply_page(page)
                store.put_clear("cursor", page["cursor"])
                store.put_clear("hlc", self.clock.last)
                self._remember_server_key(client)
            report.pages += 1
            report.pulled += len(page["changes"])
            if not page["more"]:
                break
        return report

    def sync(self) -> SyncReport:
        """Send what is waiting, ask the server what it lacks and send that again, then
        pull; stops quietly (report.error) when offline."""
        report = SyncReport()
        with self.sync_lock:
            try:
                self.send(report)
                if self.resend_lost(self.client.status()):  # what the server lacks
                    self.send(report)
                self.pull(report)
            except A0Error as error:
                report.error = error
            report.error = report.error or report.clock_error
            if self._server_time() is not None:  # (server's time, this phone's) last seen
                self._store().put_clear("clock_seen", [*self._server_time(),
                                                       clocks.since_boot_ms()])
            self.repack()
            self._store().put_clear("last_sync", {
                "at_ms": self.now_ms() if self.now_ms else int(time.time() * 1000),
                "error": report.error.code if report.error else None})
        return report

    def repack(self) -> int:
        """Rewrite in the packed form (:meth:`Entity.to_blob`) the records an earlier
        version stored in the plain one, so that they too open quickly; once, at the first
        sync after the update (off the UI thread). From what is stored, not from memory.
        Returns how many were rewritten."""
        store = self._store()
        if store.get_clear("packed"):
            return 0
        count = 0
        with store.transaction():
            for kind, id_, blob in store.entities():
                if not blob.get("v"):
                    entity = Entity.from_blob(kind, id_, blob)
                    store.put_entity(kind, id_, entity.household_id, entity.to_blob())
                    count += 1
            store.put_clear("packed", True)
        return count

    def date_offset_ms(self) -> int:
        """How far from the wall clock "today" is, for the dates this phone fills in and
        checks: its own clock (``now_ms``), moved to the server's while it is still off
        as the last answer measured (:func:`clocks.date_offset`). The hybrid clock keeps
        the phone's."""
        now = self._device_ms()
        return now - wall_ms() + clocks.date_offset(self._clock_seen(), now,
                                                    clocks.since_boot_ms())

    def clock_off(self) -> A0Error | None:
        """What to say (top bar, sync screen) while this phone's clock is still off as the
        last answer measured (:func:`clocks.still_off`, the rule the dates follow): set
        right since, it says nothing more."""
        return clocks.still_off(self._clock_seen(), self._device_ms(), clocks.since_boot_ms())

    def _device_ms(self) -> int:
        return self.now_ms() if self.now_ms else wall_ms()

    def _clock_seen(self) -> list[int] | None:
        """(server's time, this phone's, since boot) at the last answer (:meth:`sync`)."""
        return self._store().get_clear("clock_seen") if self.store is not None else None

    def last_sync(self) -> dict[str, Any]:
        """When the last sync ended, and the code of what stopped it (None: it went through)."""
        return self._store().get_clear("last_sync") or {}

    def _remember_server_key(self, client: SyncClient) -> None:
        current = client.server_key
        if current.kid == self.profile.get("current_kid"):
            return
        keys = {k["kid"]: k for k in self.profile["server_keys"]}
        keys[current.kid] = current.to_dict()
        self.profile = {**self.profile, "server_keys": list(keys.values()),
                        "current_kid": current.kid}
        self._store().put_sealed("profile", self.profile)

    def export_batch(self, folder: Path | str) -> Path | None:
        """Seal every operation not yet sent into a ``.a0b`` file for hand carrying.

        The operations are queued under that file's batch id ("waiting to send": the
        phone cannot know when the file arrives): when the network comes back they
        are re-sent under the same id, and the server, which may already have
        imported the file, answers with the same receipt.
        """
        from a0core.sync_client import batch_file_name, export_batch_file

        client = self.client
        if client is None:
            raise A0Error("app_not_enrolled")
        store = self._store()
        pending = [row["op"] for _s, _st, _b, row in store.outbox((PENDING,))]
        if not pending:
            return None
        batch_id = str(uuid.uuid4())
        sealed = client.seal(pending, batch_id=batch_id)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = export_batch_file(folder / batch_file_name(sealed.header), sealed.envelope)
        with store.transaction():
            self._mark(pending, QUEUED, batch_id)
            store.put_clear("hlc", self.clock.last)
        return path

    # ----------------------------------------------------------------- pull

    def apply_page(self, page: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Fold one pull page into the register (in the caller's transaction).

        Returns the notices it raised (conflicts, resolutions, merges, refusals).
        """
        store = self._store()
        reg = self.register
        raised: list[dict[str, Any]] = []
        for change in page["changes"]:
            kind, id_ = change["kind"], change["id"]
            if kind in ("household", "member") and (change.get("data") or {}).get("erased"):
                self._erase_local(kind, id_)
            elif kind in ("household", "member"):
                entity = reg.entities.get(id_) or Entity(kind, id_)
                entity.absorb_remote(change.get("data") or {}, change.get("clocks") or {},
                                     self.keep(id_))
                entity.deleted = bool(change.get("deleted"))
                entity.local_only = False
                if change.get("merged_into") and not entity.merged_into:
                    entity.merged_into = change["merged_into"]
                reg.entities[id_] = entity
                self._put_entity(entity)
            elif kind in ("event", "distribution", "stock"):
                data = change["data"]
                fact = {"form": data["form"], "version": data.get("version"),
                        "record": data["record"], "voided": bool(data.get("voided")),
                        "hlc": data.get("hlc", 0), "device": data.get("device", "")}
                reg.facts[id_] = fact
                store.put_fact(kind, id_, data["record"].get("household_id"), fact)
            elif kind == "alias":
                data = change.get("data") or {}
                survivor = data.get("survivor_id")
                if survivor and data.get("active", True):
                    reg.aliases[id_] = survivor
                    store.put_alias(id_, survivor)
                    old = reg.entities.get(id_)
                    if old is not None:
                        old.merged_into = survivor
                        self._put_entity(old)
                    note = notices.merged(reg, id_, survivor, data.get("entity", "household"))
                    if store.add_notice(f"alias:{id_}:{survivor}", note):
                        raised.append(note)
            elif kind == "conflict":
                data = change.get("data") or {}
                note = notices.conflict(reg, data, self.device_id)
                if store.add_notice(f"conflict:{id_}:{data.get('status')}", note):
                    raised.append(note)
        if "reports" in page:  # the area's closed months as the server holds them
            store.put_sealed("p0_server", {r["month"]: r for r in page["reports"]})
        reg.changed()
        self._follow_place(page.get("place"))
        self.clock.observe(int(page.get("server_hlc") or 0))
        self.apply_verdicts(list(page.get("verdicts") or []))
        return raised

    def _follow_place(self, place: Any) -> None:
        """The area's commune and province as the server says they are now (a reform of
        the administrative units moved it), and its villages: shown from the profile,
        kept with it."""
        if not isinstance(place, Mapping):
            return
        enrolment = dict(self.profile["enrolment"])
        def unit_of(unit: Any) -> dict[str, str] | None:
            if isinstance(unit, Mapping) and isinstance(unit.get("code"), str) \
                    and isinstance(unit.get("name"), str):
                return {"code": unit["code"], "name": unit["name"]}
            return None

        for key in ("area", "commune", "province"):
            if (unit := unit_of(place.get(key))) is not None:
                enrolment[key] = unit
        if isinstance(place.get("villages"), list):  # the villages to file households under
            enrolment["villages"] = [v for v in map(unit_of, place["villages"]) if v]
        if enrolment != self.profile["enrolment"]:
            self.profile = {**self.profile, "enrolment": enrolment}
            self._store().put_sealed("profile", self.profile)
    def resend_lost(self, status: Mapping[str, Any]) -> int:
        """Send again what the server says it does not hold (``/devices/me``): the ranges
        that never arrived, and anything this phone had acknowledged above the server's
        highest sequence (the server was restored from a backup). The server takes what
        it lacks and answers ``duplicate`` for anything it has after all. Returns how
        many operations go again."""
        from a0core.sync_client import batches_of

        store = self._store()
        missing = [list(r) for r in status.get("missing") or []]
        store.put_clear("missing", missing)
        top = int(status.get("max_seq") or 0)
        wanted = {seq for first, last in missing for seq in range(first, last + 1)}
        again = [(seq, row) for seq, state, _batch, row in store.outbox()
                 if state in RESENDABLE and (seq in wanted or seq > top)]
        with store.transaction():
            for run in batches_of([row["op"] for _seq, row in again], MAX_BATCH_OPS):
                self._mark(run, QUEUED, str(uuid.uuid4()))  # to send again: not sent
        return len(again)

    def _erase_local(self, kind: str, id_: str) -> None:
        """A person erased on the server (the data protection law): the record goes, and
        the fields of settled operations about it (their facts come voided and emptied
        in the same pull)."""
        store = self._store()
        self.register.entities[id_] = Entity(kind, id_, deleted=True)
        self._put_entity(self.register.entities[id_])
        for seq, state, batch, row in store.outbox():
            if row["op"]["id"] == id_ and state not in UNSETTLED:
                store.put_outbox(seq, id_, state, batch,
                                 {**row, "op": {**row["op"], "fields": {}, "base": {}}})

    def notices(self) -> list[dict[str, Any]]:
        """Newest first; a refusal fixed since says so (``fixed``)."""
        fixed = self.fixed()
        return [{**n, "fixed": True, "vi": n["vi"].removesuffix(" " + notices.TAP_VI),
                 "en": n["en"].removesuffix(" " + notices.TAP_EN)}
                if n["kind"] == "rejected" and n.get("seq") in fixed else {**n, "fixed": False}
                for n in self._store().notices()]

    def missing(self) -> list[dict[str, Any]]:
        """The server's word on this phone's operations that never arrived (from the last
        receipt or status), each range with where its operations are on the phone and
        what to do: send again (sync) or carry the file."""
        out = []
        rows = {seq: (state, batch) for seq, state, batch, _row in self._store().outbox()}
        for first, last in self._store().get_clear("missing", []):
            batches = sorted({rows[seq][1] for seq in range(first, last + 1)
                              if seq in rows and rows[seq][1]})
            what = f"{first}–{last}" if first != last else str(first)
            out.append({"first": first, "last": last, "batches": batches,
                        "vi": f"Các thay đổi số {what} chưa đến máy chủ: bấm «Đồng bộ ngay» "
                              f"để gửi lại, hoặc mang tệp đã xuất đến xã.",
                        "en": f"Changes no. {what} have not reached the server: press "
                              f"\"Sync now\" to send them again, or carry the exported file "
                              f"to the commune."})
        return out


def _fact_kind(form: str) -> str:
    """The store's kind of a fact of ``form``."""
    if form == "distribution":
        return "distribution"
    return "stock" if form.startswith("stock_") else "event"
