"""A simulated collaborator device for server tests: outbox, HLC, local replica, pull.

It uses the real client library (operations, sealing, receipts, pull pages) and
keeps a minimal local copy of its area: entity fields with their stamps (merged by
the same rule as the server) and events. It never overwrites a field that has a
local write not yet acknowledged — what the app must do too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from a0core.envelope import DeviceKeys, ServerPublicKey, open_from_server, sign_request
from a0core.hlc import HybridClock
from a0core.merge import merge_fields, merge_remote
from a0core.sync_client import make_op, seal
from server.extensions import db
from server.models.people import Collaborator, Device
from server.models.sync import DeviceSync


@dataclass
class Replica:
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {data, clocks}
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)     # event/distribution id
    aliases: dict[str, str] = field(default_factory=dict)  # merged id -> surviving id (active)


class SimDevice:
    def __init__(self, app, area: str = "12619.01.1", commune: str = "12619",
                 province: str = "33", now_ms=None) -> None:
        self.app = app
        self.keys = DeviceKeys.generate()
        self.id = str(uuid.uuid4())
        self.area = area
        collaborator = Collaborator(full_name="Nguyễn Thị Test", area_code=area,
                                    commune_code=commune, province_code=province)
        db.session.add(collaborator)
        db.session.flush()
        db.session.add(Device(id=self.id, collaborator_id=collaborator.id, area_code=area,
                              commune_code=commune, province_code=province,
                              sign_public_key=self.keys.sign_public_key,
                              box_public_key=self.keys.box_public_key))
        db.session.add(DeviceSync(device_id=self.id))
        db.session.commit()
        from server.security.keys import keystore_for

        self.server_key: ServerPublicKey = keystore_for(app).public()
        self.clock = HybridClock(now_ms) if now_ms else HybridClock()
        self.seq = 0
        self.outbox: list[dict[str, Any]] = []
        self.replica = Replica()
        self.unacked: dict[str, set[str]] = {}  # entity id -> fields written, not acknowledged
        self.cursor = 0
        self.place: dict[str, Any] | None = None  # where the server says the area is now
        self.verdicts: list[dict[str, Any]] = []  # verdicts pulled (decided after a receipt)

    # ------------------------------------------------------------- writing

    def _op(self, type_: str, form: str, id_: str, fields: dict[str, Any],
            base: dict[str, Any] | None = None, version: int = 1) -> dict[str, Any]:
        self.seq += 1
        op = make_op(self.seq, self.clock.now(), type_, form, version, id_, fields, base)
        self.outbox.append(op)
        return op

    def upsert(self, form: str, id_: str, fields: dict[str, Any],
               version: int = 1) -> dict[str, Any]:
        """Edit as a collaborator would: base = the stamps of the values shown."""
        entity = self.replica.entities.setdefault(id_, {"data": {}, "clocks": {}})
        base = {k: entity["clocks"][k] for k in fields if k in entity["clocks"]}
        op = self._op("upsert", form, id_, fields, base or None, version)
        merge_fields(entity["data"], entity["clocks"], fields, (op["hlc"], self.id))
        self.unacked.setdefault(id_, set()).update(fields)
        return op

    def event(self, form: str, record: dict[str, Any]) -> dict[str, Any]:
        op = self._op("event", form, record["id"], record)
        self.replica.facts[record["id"]] = {"form": form, "record": record, "voided": False}
        return op

    def distribution(self, record: dict[str, Any], version: int = 1) -> dict[str, Any]:
        op = self._op("distribution", "distribution", record["id"], record, version=version)
        self.replica.facts[record["id"]] = {"form": "distribution", "record": record,
                                            "voided": False}
        return op

    def stock(self, form: str, record: dict[str, Any]) -> dict[str, Any]:
        """A contraceptive stock movement (a0core.stock) of this collaborator's area."""
        op = self._op("stock", form, record["id"], record)
        self.replica.facts[record["id"]] = {"form": form, "record": record, "voided": False}
        return op

    def report(self, month: str, counts: dict[str, int], closed_on: str,
               id_: str | None = None) -> dict[str, Any]:
        """Close the P0 slip of ``month`` with these section counts (others zero)."""
        from a0core.p0 import empty_counts

        id_ = id_ or str(uuid.uuid4())
        return self._op("report", "p0_report", id_, {
            "id": id_, "area_code": self.area, "month": month, "closed_on": closed_on,
            **empty_counts(), **counts})

    def void(self, target: str, id_: str) -> dict[str, Any]:
        self.seq += 1
        op = make_op(self.seq, self.clock.now(), "void", None, None, id_,  # type: ignore[arg-type]
                     {"target": target, "reason": "nhầm"})
        self.outbox.append(op)
        return op

    def seal(self, ops: list[dict[str, Any]] | None = None, batch_id: str | None = None) -> bytes:
        ops = self.outbox if ops is None else ops
        return seal(ops, device_id=self.id, keys=self.keys, server_key=self.server_key,
                    hlc=self.clock.now(), batch_id=batch_id).envelope

    # -------------------------------------------------------------- network

    def send(self, client, envelope: bytes) -> dict[str, Any]:
        resp = client.post("/api/v1/sync/batches", data=envelope,
                           content_type="application/json")
        body = resp.get_json()
        if resp.status_code != 200:
            return body
        self.acknowledge(body["receipt"])
        return body

    def acknowledge(self, receipt: dict[str, Any]) -> None:
        self.clock.observe(receipt["server_hlc"])
        done = {v["seq"] for v in receipt["verdicts"]}
        for op in [o for o in self.outbox if o["seq"] in done]:
            self.outbox.remove(op)
            if op["type"] == "upsert" and not any(
                    o["id"] == op["id"] for o in self.outbox if o["type"] == "upsert"):
                self.unacked.pop(op["id"], None)

    def pull(self, client, limit: int = 1000) -> int:
        """Pull every page; return how many pages it took."""
        pages = 0
        while True:
            path = f"/api/v1/sync/pull?cursor={self.cursor}&limit={limit}&kid={self.server_key.kid}"
            headers = sign_request("GET", path, b"", self.keys, device_id=self.id)
            resp = client.get(path, headers=headers)
            assert resp.status_code == 200, resp.get_data(as_text=True)
            page = open_from_server(resp.get_data(), self.keys, self.server_key,
                                    device_id=self.id)
            self.apply_page(page)
            pages += 1
            if not page["more"]:
                return pages

    def apply_page(self, page: dict[str, Any]) -> None:
        self.clock.observe(page["server_hlc"])
        self.verdicts += page["verdicts"]
        for change in page["changes"]:
            kind = change["kind"]
            if kind in ("household", "member"):
                entity = self.replica.entities.setdefault(change["id"], {"data": {},
                                                                         "clocks": {}})
                # a local edit not acknowledged yet is never overwritten
                merge_remote(entity["data"], entity["clocks"], change["data"],
                             change["clocks"], self.unacked.get(change["id"], set()))
                entity["deleted"] = change["deleted"]
                entity["merged_into"] = change.get("merged_into")
            elif kind == "alias":
                if change["data"]["active"]:
                    self.replica.aliases[change["id"]] = change["data"]["survivor_id"]
                else:
                    self.replica.aliases.pop(change["id"], None)
            elif kind in ("event", "distribution", "stock"):
                self.replica.facts[change["id"]] = {"form": change["data"]["form"],
                                                    "record": change["data"]["record"],
                                                    "voided": change["data"]["voided"]}
        self.cursor = page["cursor"]
        self.place = page.get("place")
