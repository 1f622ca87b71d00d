"""The roll-up indicators computed the slow, obvious way from raw records.

Plain Python over the generator's records (and the edits a test makes), written
from the definitions in ``server/rollups/indicators.py``'s docstring without
using any roll-up code: for every person and month, replay their facts up to
the last day of the month and count. Used to check the real roll-ups exactly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "codelists"
STATE = {"death", "move_in", "move_out", "marriage", "divorce",
         "method_start", "method_stop", "method_switch"}


def _codes(name: str) -> list[dict[str, Any]]:
    return json.loads((SCHEMAS / f"{name}.json").read_text())["codes"]


LIVES_HERE = {c["code"] for c in _codes("residence_status") if c.get("lives_here")}
MODERN = {c["code"] for c in _codes("contraceptive_method") if c.get("modern")}


@dataclass
class Raw:
    """Register records as written by the generator (dicts shaped like the forms)."""

    households: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    woman_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # each with "form"
    distributions: list[dict[str, Any]] = field(default_factory=list)
    merged_members: set[str] = field(default_factory=set)
    merged_households: dict[str, str] = field(default_factory=dict)  # id → survivor
    voided: set[str] = field(default_factory=set)

    def add_area(self, area: Any) -> None:
        for h in area.households:
            self.households[h["id"]] = dict(h)
        for m in area.members:
            self.members[m["id"]] = dict(m)
        for w in area.woman_status:
            self.woman_status[w["member_id"]] = dict(w)
        self.events += [dict(e) for e in area.events]
        self.distributions += [dict(d) for d in area.distributions]


def _people(raw: Raw) -> dict[str, dict[str, Any]]:
    """Registered members plus the children the births create."""
    people = {k: dict(v) for k, v in raw.members.items()}
    for e in raw.events:
        if e["form"] == "birth" and e["id"] not in raw.voided and e["child_id"] not in people:
            people[e["child_id"]] = {
                "id": e["child_id"], "household_id": e["household_id"], "sex": e["sex"],
                "birth_date": e["event_date"], "registered_on": e["event_date"],
                "residence_status": "present", "marital_status": "single"}
    return people


def _age(birth: str, year: int, month: int) -> int:
    """Completed years at the end of (year, month); year-only births from January."""
    b_month = int(birth[5:7]) if len(birth) >= 7 else 1
    return year - int(birth[:4]) - (1 if b_month > month else 0)


def _group(age: int) -> str:
    return "100+" if age >= 100 else f"{age // 5 * 5:02d}-{age // 5 * 5 + 4:02d}"


def _state_at(person: dict[str, Any], woman: dict[str, Any] | None,
              events: list[dict[str, Any]], day: str) -> dict[str, Any]:
    facts = [(person.get("registered_on") or "", f"member:{person['id']}", "base", person)]
    if woman:
        facts.append((woman["recorded_on"], f"woman_status:{person['id']}", "woman", woman))
    facts += [(e["event_date"], e["id"], e["form"], e) for e in events]
    state: dict[str, Any] = {"residence": None, "marital": None, "method": None}
    for date, _, kind, data in sorted(facts, key=lambda f: (f[0], f[1])):
        if date > day:
            break
        gone = state["residence"] == "deceased"
        if kind == "base":
            state["residence"] = data["residence_status"]
            state["marital"] = data["marital_status"]
        elif kind == "woman":
            state["method"] = data["current_method"]
        elif kind == "death":
            state["residence"] = "deceased"
        elif kind == "move_in" and not gone:
            state["residence"] = data["residence_type"]
        elif kind == "move_out" and not gone:
            state["residence"] = "moved_out"
        elif kind == "marriage":
            state["marital"] = "married"
        elif kind == "divorce":
            state["marital"] = "divorced"
        elif kind in ("method_start", "method_switch"):
            state["method"] = data["method"]
        elif kind == "method_stop":
            state["method"] = "none"
    return state


def _bump(cell: dict[str, float], *keys: str, n: float = 1) -> None:
    for key in keys:
        cell[key] = cell.get(key, 0) + n


def area_cells(raw: Raw, months: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """area → month → counts (no derived values)."""
    people = _people(raw)
    live = {k: v for k, v in people.items() if k not in raw.merged_members}
    area_of = {h: raw.households[v["household_id"]]["area_code"] for h, v in live.items()}
    events = [e for e in raw.events if e["id"] not in raw.voided]
    own: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["form"] in STATE:
            own[e["member_id"]].append(e)
    cells: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for h in raw.households.values():
        for m in months:
            cells[h["area_code"]][m]["areas_expected"] = 1
    for m in months:
        year, month = int(m[:4]), int(m[5:7])
        day = f"{m}-31"
        households: dict[str, set[str]] = defaultdict(set)
        for pid, p in live.items():
            if p["birth_date"] > day or (p.get("registered_on") or "") > day:
                continue
            state = _state_at(p, raw.woman_status.get(pid), own[pid], day)
            if state["residence"] not in LIVES_HERE:
                continue
            cell = cells[area_of[pid]][m]
            age = _age(p["birth_date"], year, month)
            _bump(cell, "population", f"population.{p['sex']}",
                  f"population.{p['sex']}.{_group(age)}")
            hh = p["household_id"]
            households[area_of[pid]].add(raw.merged_households.get(hh, hh))
            if p["sex"] == "female" and state["marital"] == "married" and 15 <= age <= 49:
                _bump(cell, "women_married_15_49")
                method = state["method"] or "none"
                if method != "none":
                    _bump(cell, "users", f"users.{method}")
                    if method in MODERN:
                        _bump(cell, "users.modern")
        for area, hhs in households.items():
            cells[area][m]["households"] = len(hhs)
    wanted = set(months)
    for e in events:
        m = e["event_date"][:7]
        subject = live.get(e["member_id"])
        if m not in wanted or subject is None:
            continue
        cell = cells[raw.households[e["household_id"]]["area_code"]][m]
        form = e["form"]
        if form == "birth":
            _bump(cell, "births", f"births.{e['sex']}")
            if e["birth_order"] >= 3:
                _bump(cell, "births.order3plus")
            b, d = subject["birth_date"], e["event_date"]
            age = int(d[:4]) - int(b[:4]) - (1 if len(b) == 10 and b[5:] > d[5:] else 0)
            if age < 20:
                _bump(cell, "births.mother_under20")
        elif form == "death":
            _bump(cell, "deaths", f"deaths.{subject['sex']}")
        elif form in ("move_in", "move_out", "marriage", "divorce"):
            _bump(cell, {"move_in": "moves_in", "move_out": "moves_out",
                         "marriage": "marriages", "divorce": "divorces"}[form])
        elif form == "method_start":
            _bump(cell, "new_acceptors", f"new_acceptors.{e['method']}")
    for d in raw.distributions:
        m = d["distributed_on"][:7]
        if m in wanted and d["id"] not in raw.voided:
            _bump(cells[d["area_code"]][m], f"distributed.{d['method']}", n=d["quantity"])
    return cells


def derived(counts: dict[str, float]) -> dict[str, float]:
    out = {k: v for k, v in counts.items() if v}
    if out.get("births.female"):
        out["srb"] = round(100 * out.get("births.male", 0) / out["births.female"], 1)
    if out.get("women_married_15_49"):
        out["mcpr"] = round(100 * out.get("users.modern", 0) / out["women_married_15_49"], 1)
        out["cpr"] = round(100 * out.get("users", 0) / out["women_married_15_49"], 1)
    if out.get("areas_expected"):
        out["completeness"] = round(100 * out.get("areas_synced", 0) / out["areas_expected"], 1)
    return out
