"""The register state of a person as the fold of the facts about them.

DESIGN §2: events drive the register, and the state must equal the result of
applying the events whatever order they arrived in. We get that by construction:
every fact carries a total sort key ``(date, hlc, device, id)`` and the fold runs
over the facts in that order, never in arrival order.

Facts are of two sorts:

* *set* facts: the member's own record (status and household at ``registered_on``)
  and the woman's contraceptive status (at ``recorded_on``). They set absolute
  values, so a later status record supersedes events before it and is updated by
  events after.
* *event* facts from the change slip (births, deaths, moves, marriages, method
  changes, pregnancies, changes of household). A birth counts for the mother; a
  child's death counts against its mother's living children.

Household membership is dated like everything else: the member record's
``household_id`` is the household at registration, and a ``household_change``
event (a split to a new household, joining another one) moves the person from its
``event_date`` on. The register's ``household_id`` column is this folded value, so
a stock taken at the end of a month uses the membership on that day.

Basic fields (name, sex, date of birth…) are not folded here: they merge field by
field, last writer wins (see :mod:`a0core.merge`). Voided events are simply not
given to the fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Roles a fact plays for the person being projected.
SELF = "self"          # the fact is about this person
MOTHER = "mother"      # a birth where this person is the mother
CHILD_DEATH = "child_death"  # the death of a child whose mother is this person

MEMBER_BASE = "member"        # the member form: status at registration
WOMAN_BASE = "woman_status"   # the woman/couple form: method and children

STATE_FIELDS = (
    "residence_status", "marital_status", "current_method", "method_start",
    "living_children", "pregnant", "expected_date", "death_date", "moved_out_on",
    "household_id",
)
# folded like the above but not a register column: when the ongoing pregnancy was seen
PREGNANCY_SEEN = "pregnancy_seen"
MEMBER_FIELDS = ("residence_status", "marital_status", "household_id")  # the member form's
WOMAN_FIELDS = ("current_method", "method_start", "living_children")    # woman_status's


@dataclass(frozen=True, order=True)
class Fact:
    """One thing known about a person, with the key the fold sorts by."""

    date: str                      # ISO date it became true ("" = since always)
    hlc: int
    device: str
    id: str
    kind: str = field(compare=False)   # member | woman_status | an event form id
    role: str = field(compare=False, default=SELF)
    data: Mapping[str, Any] = field(compare=False, default_factory=dict)


def initial_state() -> dict[str, Any]:
    return {name: None for name in STATE_FIELDS} | {"pregnant": False, PREGNANCY_SEEN: None}


def _apply_self(state: dict[str, Any], fact: Fact) -> None:
    d = fact.data
    kind = fact.kind
    deceased = state["residence_status"] == "deceased"
    if kind == MEMBER_BASE:
        for name in MEMBER_FIELDS:
            state[name] = d.get(name, state[name])
    elif kind == WOMAN_BASE:
        state["current_method"] = d.get("current_method")
        state["method_start"] = d.get("method_start")
        state["living_children"] = d.get("living_children")
    elif kind == "death":
        state["residence_status"] = "deceased"
        state["death_date"] = fact.date
        _end_pregnancy(state)
    elif kind == "move_in" and not deceased:
        state["residence_status"] = d.get("residence_type", "present")
        state["moved_out_on"] = None
    elif kind == "move_out" and not deceased:
        state["residence_status"] = "moved_out"
        state["moved_out_on"] = fact.date
    elif kind == "marriage":
        state["marital_status"] = "married"
    elif kind == "divorce":
        state["marital_status"] = "divorced"
    elif kind in {"method_start", "method_switch"}:
        state["current_method"] = d["method"]
        state["method_start"] = fact.date
    elif kind == "method_stop":
        state["current_method"] = "none"
        state["method_start"] = None
    elif kind == "pregnancy":
        if d.get("outcome") == "pregnant":
            state["pregnant"] = True
            state["expected_date"] = d.get("expected_date")
            state[PREGNANCY_SEEN] = fact.date
        else:
            _end_pregnancy(state)
    elif kind == "household_change":
        state["household_id"] = d["to_household_id"]
    # screenings, elderly checks and change_info leave the folded state alone


def _end_pregnancy(state: dict[str, Any]) -> None:
    state["pregnant"] = False
    state["expected_date"] = None
    state[PREGNANCY_SEEN] = None


def _apply(state: dict[str, Any], fact: Fact) -> None:
    if fact.role == SELF:
        _apply_self(state, fact)
    elif fact.role == MOTHER:
        state["living_children"] = (state["living_children"] or 0) + 1
        _end_pregnancy(state)
    elif fact.role == CHILD_DEATH:
        state["living_children"] = max(0, (state["living_children"] or 0) - 1)


def fold(facts: Iterable[Fact]) -> dict[str, Any]:
    """The state after applying ``facts`` in their sort order (arrival order is irrelevant)."""
    state = initial_state()
    for fact in sorted(facts):
        _apply(state, fact)
    return state


def fold_until(facts: Sequence[Fact], days: Sequence[str]) -> list[dict[str, Any]]:
    """The state on each of ``days`` (ascending ISO dates): the fold of the facts dated
    on or before it — in one pass over ``facts``, which must be sorted."""
    state, out, i = initial_state(), [], 0
    for day in days:
        while i < len(facts) and facts[i].date <= day:
            _apply(state, facts[i])
            i += 1
        out.append(dict(state))
    return out


def base_facts(member_id: str, data: Mapping[str, Any], clocks: Mapping[str, Any]) -> list[Fact]:
    """The set facts of a member's merged record (member form and woman status)."""
    facts = []
    for kind, names, date_field in ((MEMBER_BASE, MEMBER_FIELDS, "registered_on"),
                                    (WOMAN_BASE, WOMAN_FIELDS, "recorded_on")):
        if not any(n in data for n in names):
            continue
        stamps = [tuple(clocks[n]) for n in (*names, date_field) if n in clocks]
        hlc, device = max(stamps) if stamps else (0, "")
        facts.append(Fact(data.get(date_field) or "", hlc, device, f"{kind}:{member_id}",
                          kind, SELF, {n: data.get(n) for n in names}))
    return facts


def child_from_birth(birth: Mapping[str, Any], mother: Mapping[str, Any]) -> dict[str, Any]:
    """The member record a birth creates for the newborn.

    The child joins the mother's household; relation follows the mother's (a head's
    or spouse's child is a child, a child's child a grandchild) and ethnicity is the
    mother's until someone records otherwise.
    """
    relation = {"head": "child", "spouse": "child", "child": "grandchild",
                "child_in_law": "grandchild"}.get(mother.get("relation", ""), "other_relative")
    record = {
        "id": birth["child_id"],
        "household_id": birth["household_id"],
        "full_name": birth.get("child_name") or "",
        "relation": relation,
        "sex": birth["sex"],
        "birth_date": birth["event_date"],
        "ethnicity": mother.get("ethnicity") or "unknown",
        "marital_status": "single",
        "residence_status": "present",
        "mother_id": birth["member_id"],
        "registered_on": birth["event_date"],
    }
    return record


@dataclass(frozen=True)
class EventRef:
    """An event as stored: its form id, its record, and who wrote it when."""

    form: str
    record: Mapping[str, Any]
    hlc: int
    device: str


def event_fact(event: EventRef, role: str) -> Fact:
    return Fact(event.record["event_date"], event.hlc, event.device, event.record["id"],
                event.form, role, event.record)


def member_state(member_id: str, data: Mapping[str, Any], clocks: Mapping[str, Any],
                 events: Iterable[EventRef], child_deaths: Iterable[EventRef] = ()) -> dict:
    """Fold a member: their record, their events (a birth counts for the mother),
    and the deaths of their children. Pass only events that are not voided."""
    facts = base_facts(member_id, data, clocks)
    facts += [event_fact(e, MOTHER if e.form == "birth" else SELF) for e in events]
    facts += [event_fact(e, CHILD_DEATH) for e in child_deaths]
    return fold(facts)
