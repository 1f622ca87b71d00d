"""The register state of a person as the fold of the facts about them.

DESIGN §2: events drive the register, and the state must equal the result of
applying the events whatever order they arrived in. We get that by construction:
every fact carries a total sort key ``(date, hlc, device, id)`` and the fold runs
over the facts in that order, never in arrival order.

Facts are of two sorts:

* *set* facts: the member's own record (status at ``registered_on``) and the
  woman's contraceptive status (at ``recorded_on``). They set absolute values, so a
  later status record supersedes events before it and is updated by events after.
* *event* facts from the change slip (births, deaths, moves, marriages, method
  changes, pregnancies). A birth counts for the mother; a child's death counts
  against its mother's living children.

Basic fields (name, sex, date of birth…) are not folded here: they merge field by
field, last writer wins (see :mod:`a0core.merge`). Voided events are simply not
given to the fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
)


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
    return {name: None for name in STATE_FIELDS} | {"pregnant": False}


def _apply_self(state: dict[str, Any], fact: Fact) -> None:
    d = fact.data
    kind = fact.kind
    deceased = state["residence_status"] == "deceased"
    if kind == MEMBER_BASE:
        state["residence_status"] = d.get("residence_status", state["residence_status"])
        state["marital_status"] = d.get("marital_status", state["marital_status"])
    elif kind == WOMAN_BASE:
        state["current_method"] = d.get("current_method")
        state["method_start"] = d.get("method_start")
        state["living_children"] = d.get("living_children")
    elif kind == "death":
        state["residence_status"] = "deceased"
        state["death_date"] = fact.date
        state["pregnant"] = False
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
        pregnant = d.get("outcome") == "pregnant"
        state["pregnant"] = pregnant
        state["expected_date"] = d.get("expected_date") if pregnant else None
    # screenings, elderly checks and change_info leave the folded state alone


def fold(facts: Iterable[Fact]) -> dict[str, Any]:
    """The state after applying ``facts`` in their sort order (arrival order is irrelevant)."""
    state = initial_state()
    for fact in sorted(facts):
        if fact.role == SELF:
            _apply_self(state, fact)
        elif fact.role == MOTHER:
            state["living_children"] = (state["living_children"] or 0) + 1
            state["pregnant"] = False
            state["expected_date"] = None
        elif fact.role == CHILD_DEATH:
            state["living_children"] = max(0, (state["living_children"] or 0) - 1)
    return state


def base_facts(member_id: str, data: Mapping[str, Any], clocks: Mapping[str, Any]) -> list[Fact]:
    """The set facts of a member's merged record (member form and woman status)."""
    facts = []
    member_fields = ("residence_status", "marital_status")
    woman_fields = ("current_method", "method_start", "living_children")
    for kind, names, date_field in ((MEMBER_BASE, member_fields, "registered_on"),
                                    (WOMAN_BASE, woman_fields, "recorded_on")):
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
