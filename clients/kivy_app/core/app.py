"""The app's core: enrol, unlock, write offline, sync, export — no Kivy here.

The UI calls :class:`AppCore` and nothing else. Every local change goes, in one
store transaction, to the register, to the outbox (next sequence number, fresh
HLC stamp, operation built by :func:`a0core.sync_client.make_op`) and to the
sequence counter. Sync seals the outbox into batches with the client library,
sends them, records each operation's verdict, then pulls the area's changes
page by page (the cursor is saved after each page, so a first download that is
cut off resumes where it stopped).
"""

from __future__ import annotations

import platform
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a0core.envelope import DeviceKeys, ServerPublicKey
from a0core.errors import A0Error
from a0core.hlc import HybridClock
from a0core.projection import child_from_birth
from a0core.sync_client import (
    RetryPolicy,
    SyncClient,
    Transport,
    batch_file_name,
    batches_of,
    export_batch_file,
    make_op,
)
from clients.kivy_app.core import notices
from clients.kivy_app.core.crypto import check_pin
from clients.kivy_app.core.formview import FormView
from clients.kivy_app.core.outbox import (
    PENDING,
    REJECTED,
    SENT,
    UNSETTLED,
    next_state,
)
from clients.kivy_app.core.register import Entity, Register
from clients.kivy_app.core.store import Store

STORE_FILE = "a0sync-app.sqlite"
MAX_BATCH_OPS = 200
PULL_PAGE = 500
OFFLINE_CODES = {"network_unavailable", "server_unavailable"}


@dataclass
class SaveResult:
    """What a form's save did: the record id, or the errors to show beside the fields."""

    id: str | None
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    op: dict[str, Any] | None = None

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
        self.client: SyncClient | None = None
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
        check_pin(pin)
        if pin_again is not None and pin_again != pin:
            raise A0Error("app_pin_mismatch")
        keys = DeviceKeys.generate()
        clock = self._new_clock(0)
        answer = SyncClient.enrol(server_url, code.strip(), keys,
                                  label or f"a0sync app ({platform.node() or 'phone'})",
                                  clock.now(), transport=self.transport, retry=self.retry)
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
        self.client = self._client()

    def lock(self) -> None:
        if self.store is not None:
            self.store.close()
        self.store = None
        self.register = Register()
        self.client = None

    def _new_clock(self, last: int) -> HybridClock:
        return HybridClock(self.now_ms, last) if self.now_ms else HybridClock(last=last)

    def _client(self) -> SyncClient:
        keys = [ServerPublicKey.from_dict(k) for k in self.profile["server_keys"]]
        current = next(k for k in keys if k.kid == self.profile["current_kid"])
        return SyncClient(self.profile["server_url"], self.device_id,
                          DeviceKeys.from_dict(self.profile["keys"]), current,
                          known_server_keys=keys, clock=self.clock, transport=self.transport,
                          retry=self.retry)

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

    # ---------------------------------------------------------- local writes

    def keep(self, entity_id: str) -> set[str]:
        """Fields of ``entity_id`` with a local write the server has not settled."""
        out: set[str] = set()
        for eid, names in self._unsettled.values():
            if eid == entity_id:
                out |= names
        return out

    def _append_op(self, type_: str, form: FormView, id_: str, fields: Mapping[str, Any],
                   base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Next sequence number and HLC stamp, one operation in the outbox (in the caller's
        transaction)."""
        store = self._store()
        seq = int(store.get_clear("seq", 0)) + 1
        op = make_op(seq, self.clock.now(), type_, form.id, form.version, id_, fields,
                     base or None)
        store.put_clear("seq", seq)
        store.put_clear("hlc", self.clock.last)
        store.put_outbox(seq, id_, PENDING, None, {"op": op, "verdict": None})
        if type_ == "upsert":
            self._unsettled[seq] = (id_, frozenset(fields))
        return op

    def _put_entity(self, entity: Entity) -> None:
        self._store().put_entity(entity.kind, entity.id, entity.household_id, entity.to_blob())

    def save_entity(self, form_id: str, values: Mapping[str, Any], entity_id: str | None = None,
                    context: Mapping[str, Any] | None = None) -> SaveResult:
        """Create (``entity_id`` None) or edit a household, member or woman's status.

        An edit sends only the fields that changed, each with the stamp of the value
        that was on screen (``base``), which is how the server tells a concurrent
        edit (a conflict) from a later one.
        """
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
        clean, errors = fv.check(record)
        if errors or clean is None:
            return SaveResult(entity_id, errors)
        target = clean[key]
        changed = {k: v for k, v in clean.items() if k != key and current.get(k) != v}
        changed.update({k: None for k in current if k not in clean and k != key})
        if not changed:
            return SaveResult(target)
        entity = existing or Entity(kind, target, local_only=True)
        base = {k: entity.clocks[k] for k in changed if k in entity.clocks}
        with self._store().transaction():
            op = self._append_op("upsert", fv, target, changed, base)
            entity.write(changed, (op["hlc"], self.device_id))
            self.register.entities[entity.id] = entity
            self._put_entity(entity)
        self.register.changed()
        return SaveResult(target, op=op)

    def record_fact(self, form_id: str, values: Mapping[str, Any],
                    context: Mapping[str, Any]) -> SaveResult:
        """An event of the change slip or a distribution: append-only, sent whole."""
        fv = FormView(form_id)
        record = {**fv.new_ids(), **context, **values}
        if fv.form.kind == "distribution":
            record.setdefault("area_code", self.area["code"])
        clean, errors = fv.check(record)
        if errors or clean is None:
            return SaveResult(None, errors)
        type_ = "distribution" if fv.form.kind == "distribution" else "event"
        with self._store().transaction():
            op = self._append_op(type_, fv, clean["id"], clean)
            fact = {"form": fv.id, "version": fv.version, "record": clean, "voided": False,
                    "hlc": op["hlc"], "device": self.device_id}
            self.register.facts[clean["id"]] = fact
            self._store().put_fact(type_, clean["id"], clean.get("household_id"), fact)
            if fv.id == "birth":
                self._local_child(clean, op["hlc"])
        self.register.changed()
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

    def void(self, target: str, fact_id: str, reason: str) -> dict[str, Any]:
        """Withdraw an event or distribution recorded in error."""
        fact = self.register.facts[fact_id]
        store = self._store()
        with store.transaction():
            seq = int(store.get_clear("seq", 0)) + 1
            op = make_op(seq, self.clock.now(), "void", None, None, fact_id,  # type: ignore[arg-type]
                         {"target": target, "reason": reason})
            store.put_clear("seq", seq)
            store.put_clear("hlc", self.clock.last)
            store.put_outbox(seq, fact_id, PENDING, None, {"op": op, "verdict": None})
            fact["voided"] = True
            store.put_fact(target, fact_id, fact["record"].get("household_id"), fact)
        self.register.changed()
        return op

    # ------------------------------------------------------------ the outbox

    def outbox_counts(self) -> dict[str, int]:
        return self._store().outbox_counts()

    def outbox_rows(self, limit: int = 300) -> list[dict[str, Any]]:
        """Newest first: seq, state, the operation, its verdict (with the reason if refused)."""
        return [{"seq": seq, "state": state, "batch": batch, **row}
                for seq, state, batch, row in self._store().outbox(limit=limit, newest_first=True)]

    def rejected(self) -> list[dict[str, Any]]:
        return [{"seq": seq, **row} for seq, _s, _b, row in self._store().outbox((REJECTED,))]

    def fix_target(self, seq: int) -> dict[str, Any] | None:
        """Where a rejected operation's record opens to be fixed: form, id, household, member,
        the values sent and the server's errors per field."""
        row = next((r for r in self.rejected() if r["seq"] == seq), None)
        if row is None:
            return None
        op, verdict = row["op"], row["verdict"] or {}
        errors: dict[str, list[tuple[str, str]]] = {}
        for e in verdict.get("errors") or []:
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
            state, batch, row = rows[seq]
            new = next_state(state, verdict)
            counts[verdict.get("verdict", "?")] = counts.get(verdict.get("verdict", "?"), 0) + 1
            if new == state and row.get("verdict") == verdict:
                continue
            self._settle(seq, new, verdict, row, batch)
            if new == REJECTED:
                store.add_notice(f"rejected:{seq}", notices.rejected(self.register, row["op"],
                                                                     verdict))
        return counts

    # ----------------------------------------------------------------- sync

    def _batches_to_send(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Batches sealed before (same id, same ops: the server answers its kept receipt),
        then new batches of pending operations, marked sent before they leave."""
        store = self._store()
        resend: dict[str, list[dict[str, Any]]] = {}
        for _seq, _state, batch, row in store.outbox((SENT,)):
            resend.setdefault(batch or "", []).append(row["op"])
        out = list(resend.items())
        pending = [row["op"] for _s, _st, _b, row in store.outbox((PENDING,))]
        with store.transaction():
            for run in batches_of(pending, MAX_BATCH_OPS):
                batch_id = str(uuid.uuid4())
                for op in run:
                    store.put_outbox(op["seq"], op["id"], SENT, batch_id,
                                     {"op": op, "verdict": None})
                out.append((batch_id, list(run)))
        return out

    def send(self, report: SyncReport | None = None) -> SyncReport:
        report = report or SyncReport()
        client = self.client
        if client is None:
            raise A0Error("app_not_enrolled")
        for batch_id, ops in self._batches_to_send():
            sealed = client.seal(ops, batch_id=batch_id)
            receipt = client.send_batch(sealed.envelope)
            with self._store().transaction():
                counts = self.apply_verdicts(receipt["verdicts"])
                self._store().put_clear("hlc", self.clock.last)
            report.sent_ops += len(ops)
            for k, v in counts.items():
                report.verdicts[k] = report.verdicts.get(k, 0) + v
        return report

    def pull(self, report: SyncReport | None = None, max_pages: int | None = None) -> SyncReport:
        """Pull pages from the saved cursor until the server has no more (or ``max_pages``)."""
        report = report or SyncReport()
        client = self.client
        if client is None:
            raise A0Error("app_not_enrolled")
        store = self._store()
        while max_pages is None or report.pages < max_pages:
            page = client.pull(int(store.get_clear("cursor", 0)), PULL_PAGE)
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
        """Send what is waiting, then pull; stops quietly (report.error) when offline."""
        report = SyncReport()
        with self.sync_lock:
            try:
                self.send(report)
                self.pull(report)
            except A0Error as error:
                report.error = error
        return report

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

        The operations become ``sent`` under that file's batch id: when the network
        comes back they are re-sent under the same id, and the server, which may
        already have imported the file, answers with the same receipt.
        """
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
            for op in pending:
                store.put_outbox(op["seq"], op["id"], SENT, batch_id, {"op": op, "verdict": None})
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
            if kind in ("household", "member"):
                entity = reg.entities.get(id_) or Entity(kind, id_)
                entity.absorb_remote(change.get("data") or {}, change.get("clocks") or {},
                                     self.keep(id_))
                entity.deleted = bool(change.get("deleted"))
                entity.local_only = False
                if change.get("merged_into") and not entity.merged_into:
                    entity.merged_into = change["merged_into"]
                reg.entities[id_] = entity
                self._put_entity(entity)
            elif kind in ("event", "distribution"):
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
        reg.changed()
        self.clock.observe(int(page.get("server_hlc") or 0))
        self.apply_verdicts(list(page.get("verdicts") or []))
        return raised

    def notices(self) -> list[dict[str, Any]]:
        return self._store().notices()
