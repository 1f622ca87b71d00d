"""The roll-up indicators computed the slow, obvious way from raw records.

Plain Python over the generator's records (and the edits a test makes), written
from the definitions in ``server/rollups/indicators.py``'s docstring without
using any roll-up, projection or reporting code: for every person and month,
replay their facts up to the last day of the month and count; for every slip,
count the area's entries of the month by the sections the forms in ``schemas/``
name. Used to check the real roll-ups exactly.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
STATE = {"death", "move_in", "move_out", "marriage", "divorce", "method_start",
         "method_stop", "method_switch", "pregnancy", "household_change"}
VN = dt.timezone(dt.timedelta(hours=7))


def _codes(name: str) -> list[dict[str, Any]]:
    return json.loads((SCHEMAS / "codelists" / f"{name}.json").read_text())["codes"]


LIVES_HERE = {c["code"] for c in _codes("residence_status") if c.get("lives_here")}
MODERN = {c["code"] for c in _codes("contraceptive_method") if c.get("modern")}
POSITIVE = {c["code"] for c in _codes("screening_result") if c.get("positive")}


def _forms() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("forms/*/v*.json"))]


# form id → the slip's section, and the slip's sections (its latest version's integers)
SECTION = {f["id"]: f["section"][3:] for f in _forms()
           if f.get("section", "").startswith("P0.") and f["kind"] in ("event", "distribution")}
_SLIP = max((f for f in _forms() if f["id"] == "p0_report"), key=lambda f: f["version"])
SLIP_SECTIONS = [f["name"] for f in _SLIP["fields"] if f["type"] == "integer"]


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
    # slips as the server received them: area, month, counts, hlc, device, received (UTC)
    slips: list[dict[str, Any]] = field(default_factory=list)
    batches: list[tuple[str, dt.datetime]] = field(default_factory=list)  # (area, received)
    deadline_day: int = 5

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


def _last_day(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _state_at(person: dict[str, Any], woman: dict[str, Any] | None,
              facts: list[tuple[str, str, str, dict[str, Any]]], day: str) -> dict[str, Any]:
    """Replay (date, key, kind, record) in (date, key) order up to ``day``."""
    everything = [(person.get("registered_on") or "", f"member:{person['id']}", "base", person)]
    if woman:
        everything.append((woman["recorded_on"], f"woman_status:{person['id']}", "woman",
                           woman))
    everything += facts
    state: dict[str, Any] = {"residence": None, "marital": None, "method": None,
                             "household": None, "pregnant": False, "expected": None,
                             "seen": None}
    for date, _, kind, data in sorted(everything, key=lambda f: (f[0], f[1])):
        if date > day:
            break
        gone = state["residence"] == "deceased"
        if kind == "base":
            state["residence"] = data["residence_status"]
            state["marital"] = data["marital_status"]
            state["household"] = data["household_id"]
        elif kind == "woman":
            state["method"] = data["current_method"]
        elif kind == "death":
            state["residence"] = "deceased"
            state["pregnant"] = False
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
        elif kind == "household_change":
            state["household"] = data["to_household_id"]
        elif kind == "pregnancy":
            if data["outcome"] == "pregnant":
                state.update(pregnant=True, expected=data.get("expected_date"), seen=date)
            else:
                state["pregnant"] = False
        elif kind == "gave_birth":
            state["pregnant"] = False
    return state


def _still_pregnant(state: dict[str, Any], last: dt.date) -> bool:
    """Not run over: at most 42 days past the expected date (or seen + 280 days)."""
    if not state["pregnant"]:
        return False
    if state["expected"]:
        limit = dt.date.fromisoformat(state["expected"]) + dt.timedelta(days=42)
    else:
        limit = dt.date.fromisoformat(state["seen"]) + dt.timedelta(days=280 + 42)
    return last <= limit


def _bump(cell: dict[str, float], *keys: str, n: float = 1) -> None:
    for key in keys:
        cell[key] = cell.get(key, 0) + n


def _deadline(month: str, day: int) -> dt.datetime:
    """The first instant a slip for ``month`` is late: day ``day`` + 1 of M+1, 00:00 VN."""
    year, m = int(month[:4]), int(month[5:7])
    year, m = (year + 1, 1) if m == 12 else (year, m + 1)
    return dt.datetime(year, m, day, tzinfo=VN) + dt.timedelta(days=1)


def area_cells(raw: Raw, months: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """area → month → counts (no derived values)."""
    people = _people(raw)
    live = {k: v for k, v in people.items() if k not in raw.merged_members}
    area_of = {pid: raw.households[p["household_id"]]["area_code"] for pid, p in live.items()}
    events = [e for e in raw.events if e["id"] not in raw.voided]
    own: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = defaultdict(list)
    for e in events:
        if e["form"] in STATE:
            own[e["member_id"]].append((e["event_date"], e["id"], e["form"], e))
        elif e["form"] == "birth":
            own[e["member_id"]].append((e["event_date"], e["id"], "gave_birth", e))
    cells: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for m in months:
        year, month = int(m[:4]), int(m[5:7])
        day, last = f"{m}-31", _last_day(year, month)
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
            if age >= 60:
                _bump(cell, "population.60plus")
            hh = state["household"]
            households[area_of[pid]].add(raw.merged_households.get(hh, hh))
            female = p["sex"] == "female"
            if female and state["marital"] == "married" and 15 <= age <= 49:
                _bump(cell, "women_married_15_49")
                method = state["method"] or "none"
                if method != "none":
                    _bump(cell, "users", f"users.{method}")
                    if method in MODERN:
                        _bump(cell, "users.modern")
            if female and _still_pregnant(state, last):
                _bump(cell, "pregnant")
        for area, hhs in households.items():
            cells[area][m]["households"] = len(hhs)
    _flows(raw, live, events, set(months), cells)
    _reporting(raw, live, area_of, events, months, cells)
    return cells


def _flows(raw: Raw, live: dict[str, dict[str, Any]], events: list[dict[str, Any]],
           wanted: set[str], cells: Any) -> None:
    screened: set[tuple[str, str, str, str]] = set()
    # pregnancies ended (an outcome, or a birth: live), once per woman and month
    ended: list[tuple[str, str, str, str]] = []
    for e in events:
        m = e["event_date"][:7]
        subject = live.get(e["member_id"])
        if m not in wanted or subject is None:
            continue
        area = raw.households[e["household_id"]]["area_code"]
        cell = cells[area][m]
        form = e["form"]
        if form == "birth":
            _bump(cell, "births", f"births.{e['sex']}")
            if e["birth_order"] == 2:
                _bump(cell, "births.order2")
            if e["birth_order"] >= 3:
                _bump(cell, "births.order3plus")
            b, d = subject["birth_date"], e["event_date"]
            age = int(d[:4]) - int(b[:4]) - (1 if len(b) == 10 and b[5:] > d[5:] else 0)
            if age < 20:
                _bump(cell, "births.mother_under20")
            ended.append((area, m, e["member_id"], "live_birth"))
        elif form == "death":
            _bump(cell, "deaths", f"deaths.{subject['sex']}")
        elif form == "move_in":
            _bump(cell, "moves_in", f"moves_in.{e['from_scope']}")
        elif form == "move_out":
            _bump(cell, "moves_out", f"moves_out.{e['to_scope']}")
        elif form in ("marriage", "divorce"):
            _bump(cell, {"marriage": "marriages", "divorce": "divorces"}[form])
        elif form == "household_change":
            _bump(cell, "household_changes", f"household_changes.{e['reason']}")
        elif form == "method_start":
            _bump(cell, "new_acceptors", f"new_acceptors.{e['method']}")
        elif form == "method_stop":
            _bump(cell, "method_stops", f"method_stops.{e['reason']}",
                  f"method_stops.method.{e['method']}")
        elif form == "method_switch":
            _bump(cell, "method_switches", f"method_switches.{e['method']}",
                  f"method_switches.from.{e['from_method']}")
        elif form == "pregnancy":
            if e["outcome"] == "pregnant":
                _bump(cell, "pregnancies.new")
            else:
                ended.append((area, m, e["member_id"], e["outcome"]))
        elif form == "newborn_screening":
            _bump(cell, "newborn_screenings", f"newborn_screenings.{e['screening']}")
            names = ["newborns_screened"] + (
                ["newborns_screened.positive"] if e["result"] in POSITIVE else [])
            for name in names:
                if (area, m, name, e["member_id"]) not in screened:
                    screened.add((area, m, name, e["member_id"]))
                    _bump(cell, name)
        elif form == "prenatal_screening":
            _bump(cell, "prenatal_screenings", f"prenatal_screenings.{e['screening']}")
            if e["result"] in POSITIVE:
                _bump(cell, "prenatal_screenings.positive")
        elif form == "elderly_check":
            _bump(cell, "elderly_checks", f"elderly_checks.{e['result']}")
    for area, m, _woman, outcome in set(ended):
        _bump(cells[area][m], f"pregnancy_outcomes.{outcome}")
    for area, m, _woman in {(area, m, woman) for area, m, woman, _ in ended}:
        _bump(cells[area][m], "pregnancy_outcomes")
    for d in raw.distributions:
        m = d["distributed_on"][:7]
        if m in wanted and d["id"] not in raw.voided:
            cell = cells[d["area_code"]][m]
            _bump(cell, f"distributed.{d['method']}",
                  f"distributed.{d.get('source') or 'unstated'}.{d['method']}", n=d["quantity"])


def held_entries(raw: Raw, area: str, month: str) -> dict[str, int]:
    """What the server holds for a slip: entries of each section dated in the month."""
    held = dict.fromkeys(SLIP_SECTIONS, 0)
    for e in raw.events:
        if (e["id"] not in raw.voided and e["event_date"][:7] == month
                and raw.households[e["household_id"]]["area_code"] == area):
            held[SECTION[e["form"]]] += 1
    for d in raw.distributions:
        if d["id"] not in raw.voided and d["distributed_on"][:7] == month \
                and d["area_code"] == area:
            held[SECTION["distribution"]] += 1
    return held


def _reporting(raw: Raw, live: dict[str, dict[str, Any]], area_of: dict[str, str],
               events: list[dict[str, Any]], months: list[str], cells: Any) -> None:
    starts: dict[str, str] = {}

    def started(area: str, month: str) -> None:
        starts[area] = min(starts.get(area, month), month)

    for pid, p in live.items():
        started(area_of[pid], (p.get("registered_on") or "")[:7])
    for e in events:
        started(raw.households[e["household_id"]]["area_code"], e["event_date"][:7])
    for s in raw.slips:
        started(s["area"], s["month"])
    for area, received in raw.batches:
        started(area, received.strftime("%Y-%m"))
        if received.strftime("%Y-%m") in months:
            cells[area][received.strftime("%Y-%m")]["areas_synced"] = 1
    for area in {h["area_code"] for h in raw.households.values()}:
        starts.setdefault(area, "")
    for area, start in starts.items():
        for m in months:
            if m >= start:
                cells[area][m]["areas_expected"] = 1
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in raw.slips:
        if s["month"] in months:
            by_key[(s["area"], s["month"])].append(s)
    for (area, month), sent in by_key.items():
        cell = cells[area][month]
        cell["areas_reported"] = 1
        if min(s["received"] for s in sent) < _deadline(month, raw.deadline_day):
            cell["areas_on_time"] = 1
        latest = max(sent, key=lambda s: (s["hlc"], s["device"]))
        held = held_entries(raw, area, month)
        if any(latest["counts"].get(k, 0) != held.get(k, 0) for k in set(held) | set(
                latest["counts"])):
            cell["areas_incomplete"] = 1


def derived(counts: dict[str, float]) -> dict[str, float]:
    out = {k: v for k, v in counts.items() if v}
    if out.get("births.female"):
        out["srb"] = round(100 * out.get("births.male", 0) / out["births.female"], 1)
    if out.get("women_married_15_49"):
        out["mcpr"] = round(100 * out.get("users.modern", 0) / out["women_married_15_49"], 1)
        out["cpr"] = round(100 * out.get("users", 0) / out["women_married_15_49"], 1)
    if out.get("areas_expected"):
        out["completeness"] = round(100 * out.get("areas_reported", 0) / out["areas_expected"],
                                    1)
        out["timeliness"] = round(100 * out.get("areas_on_time", 0) / out["areas_expected"], 1)
    return out
