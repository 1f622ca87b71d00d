"""The area's register as the app holds it in memory once unlocked.

Households and members are kept with their field clocks (merged by the same
rule as the server, :mod:`a0core.merge`) plus the last copy the server sent
(``remote``). A pulled value never overwrites a field that has a local write not
yet settled by the server; once that write settles, the server's copy is merged
again, so a local write that lost on the server gives way then, and not before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from a0core import p0
from a0core.clocks import pack, unpack
from a0core.merge import merge_fields, merge_remote
from a0core.names import fold
from a0core.projection import EventRef, member_state


@dataclass
class Entity:
    kind: str  # household | member
    id: str
    data: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    merged_into: str | None = None
    remote: dict[str, Any] = field(default_factory=lambda: {"data": {}, "clocks": {}})
    local_only: bool = False  # created here (or from a birth recorded here), not yet pulled

    def to_blob(self) -> dict[str, Any]:
        """The stored form: clocks packed by stamp, and the server's copy left out when it
        is what the record holds (the usual case after a pull). A third the size of the
        plain form, and three to four times quicker to decode when the app is unlocked."""
        blob: dict[str, Any] = {"v": 2, "data": self.data, "clocks": pack(self.clocks)}
        if self.remote != {"data": self.data, "clocks": self.clocks}:
            blob["remote"] = {"data": self.remote["data"], "clocks": pack(self.remote["clocks"])}
        if self.deleted:
            blob["deleted"] = True
        if self.merged_into:
            blob["merged_into"] = self.merged_into
        if self.local_only:
            blob["local_only"] = True
        return blob

    @classmethod
    def from_blob(cls, kind: str, id_: str, blob: dict[str, Any]) -> Entity:
        """An entity from :meth:`to_blob`'s form, or from the plain form of earlier versions
        (a store written before keeps working; :meth:`AppCore.repack` packs it)."""
        packed = bool(blob.get("v"))
        data = blob["data"]
        # packed: the fields of a group share one stamp list (merges replace a field's
        # stamp, never change one in place)
        clocks = unpack(blob["clocks"], shared=packed) or {}
        remote = blob.get("remote")
        if remote is None:
            # the server's copy is what the record holds: its own dicts (merges change
            # them in place), sharing the stamps (merges replace those, never change them)
            remote = {"data": dict(data), "clocks": dict(clocks)} if packed else \
                {"data": {}, "clocks": {}}
        else:
            remote = {"data": remote.get("data") or {},
                      "clocks": unpack(remote.get("clocks"), shared=packed) or {}}
        return cls(kind, id_, data, clocks, blob.get("deleted", False),
                   blob.get("merged_into"), remote, blob.get("local_only", False))

    @property
    def household_id(self) -> str | None:
        return self.id if self.kind == "household" else self.data.get("household_id")

    @property
    def visible(self) -> bool:
        return not self.deleted and not self.merged_into

    def write(self, values: dict[str, Any], stamp: tuple[int, str]) -> list[str]:
        return merge_fields(self.data, self.clocks, values, stamp)

    def absorb_remote(self, data: dict[str, Any], clocks: dict[str, Any],
                      keep: set[str]) -> list[str]:
        """Fold the server's copy in (kept fields aside); remember it for later."""
        merge_remote(self.remote["data"], self.remote["clocks"], data, clocks)
        return merge_remote(self.data, self.clocks, data, clocks, keep)

    def settle(self, keep: set[str]) -> list[str]:
        """A local write settled: the server's copy applies again to what is no longer kept."""
        return merge_remote(self.data, self.clocks, self.remote["data"], self.remote["clocks"],
                            keep)


@dataclass(frozen=True)
class HouseholdRow:
    """One line of the household list."""

    id: str
    number: str
    head: str
    address: str
    members: int
    text: str  # number, address and every member's name

    @cached_property
    def search(self) -> str:
        """The text folded for search: when the collaborator first searches, not when
        the list is first drawn (folding every name is a tenth of the list's cost)."""
        return fold(self.text)


def number_key(number: str) -> tuple[int, ...]:
    """Sort 2, 10, 100.1, 100.2 as a person expects."""
    return tuple(int(p) for p in re.findall(r"\d+", number or "")) or (1 << 30,)


class Register:
    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.facts: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self._rows: list[HouseholdRow] | None = None
        self._by_household: dict[str, list[str]] | None = None
        self._household_of: dict[str, str] = {}

    def changed(self) -> None:
        self._rows = None
        self._by_household = None
        self._household_of = {}

    def resolve(self, id_: str) -> str:
        seen = set()
        while id_ in self.aliases and id_ not in seen:
            seen.add(id_)
            id_ = self.aliases[id_]
        return id_

    def get(self, id_: str) -> Entity | None:
        return self.entities.get(self.resolve(id_)) or self.entities.get(id_)

    def _index(self) -> dict[str, list[str]]:
        """Members by the household they belong to now (membership is dated: a change
        of household moves a person from its date on, by the register's own fold)."""
        if self._by_household is None:
            moves: dict[str, list[EventRef]] = {}
            for f in self.facts.values():
                if f["form"] == "household_change" and not f.get("voided"):
                    moves.setdefault(self.resolve(f["record"]["member_id"]), []).append(
                        EventRef(f["form"], f["record"], f.get("hlc", 0), f.get("device", "")))
            index: dict[str, list[str]] = {}
            for e in self.entities.values():
                if e.kind == "member" and e.visible:
                    household = e.data.get("household_id", "")
                    if e.id in moves:
                        household = member_state(e.id, e.data, e.clocks,
                                                 moves[e.id])["household_id"] or household
                    self._household_of[e.id] = self.resolve(household)
                    index.setdefault(self._household_of[e.id], []).append(e.id)
            self._by_household = index
        return self._by_household

    def household_of(self, member: Entity) -> str:
        """The household a member belongs to now."""
        self._index()
        return self._household_of.get(member.id) or self.resolve(
            member.data.get("household_id", ""))

    def members_of(self, household_id: str) -> list[Entity]:
        ids = self._index().get(household_id, [])
        members = [self.entities[i] for i in ids]
        order = {"head": 0, "spouse": 1}
        return sorted(members, key=lambda m: (order.get(m.data.get("relation", ""), 2),
                                              m.data.get("birth_date", ""), m.id))

    def head_name(self, household: Entity, members: list[Entity] | None = None) -> str:
        head = household.data.get("head_member_id")
        members = self.members_of(household.id) if members is None else members
        chosen = next((m for m in members if m.id == head), None) or next(
            (m for m in members if m.data.get("relation") == "head"), None)
        return chosen.data.get("full_name", "") if chosen else ""

    def rows(self) -> list[HouseholdRow]:
        if self._rows is None:
            rows = []
            for e in self.entities.values():
                if e.kind != "household" or not e.visible:
                    continue
                members = self.members_of(e.id)
                text = " ".join([e.data.get("number", ""), e.data.get("address", ""),
                                 *(m.data.get("full_name", "") for m in members)])
                rows.append(HouseholdRow(e.id, e.data.get("number", ""),
                                         self.head_name(e, members),
                                         e.data.get("address", ""), len(members), text))
            rows.sort(key=lambda r: (number_key(r.number), r.id))
            self._rows = rows
        return self._rows

    def search(self, query: str) -> list[HouseholdRow]:
        """Households whose number, address or a member's name contains every word typed
        (diacritics folded, đ→d, any order)."""
        words = fold(query or "").split()
        rows = self.rows()
        if not words:
            return rows
        return [r for r in rows if all(w in r.search for w in words)]

    def month_counts(self, month: str) -> dict[str, int]:
        """The P0 slip of ``month`` as this device holds it: entries per section dated
        in the month, not voided (:mod:`a0core.p0`, the rule the server checks by)."""
        entries = ((f["form"], p0.entry_date(f["record"])) for f in self.facts.values()
                   if not f.get("voided"))
        return p0.count_entries(entries).get(month, p0.empty_counts())

    def events_of(self, member_id: str) -> list[dict[str, Any]]:
        return sorted((f for f in self.facts.values() if f["form"] != "distribution"
                       and f["record"].get("member_id") == member_id),
                      key=lambda f: (f["record"].get("event_date", ""), f.get("hlc", 0)))

    def state_of(self, member: Entity) -> dict[str, Any]:
        """Residence, marriage, method, children…: the fold of the member's record and events,
        by the same code as the server (:func:`a0core.projection.member_state`)."""
        events, child_deaths = [], []
        children = {e.id for e in self.entities.values()
                    if e.kind == "member" and e.data.get("mother_id") == member.id}
        for f in self.facts.values():
            if f.get("voided") or f["form"] == "distribution":
                continue
            ref = EventRef(f["form"], f["record"], f.get("hlc", 0), f.get("device", ""))
            if f["record"].get("member_id") == member.id:
                events.append(ref)
            elif f["form"] == "death" and f["record"].get("member_id") in children:
                child_deaths.append(ref)
        return member_state(member.id, member.data, member.clocks, events, child_deaths)
