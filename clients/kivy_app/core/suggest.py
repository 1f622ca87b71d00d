"""What a form can fill in before the collaborator touches it, and whom it may be about.

Fewer taps for the two things done most: handing out contraceptives (the
household's last recipient and her method, today's date) and recording a birth
(the mother who is pregnant or the only one who can be, the next birth order).
Suggestions are only suggestions: the form shows them, the collaborator changes
what is wrong, and a field the collaborator touched never follows them again.

Whom a form may be about follows ``schemas/applicability.json``
(:mod:`a0core.applicability`), the same rules the server enforces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from a0core.applicability import applicability, person_of
from a0core.schemas import registry
from clients.kivy_app.core import dates
from clients.kivy_app.core import stock as bag
from clients.kivy_app.core.formview import FormView
from clients.kivy_app.core.register import Entity, Register, number_key


def person(reg: Register, member: Entity) -> dict[str, Any]:
    return person_of(member.data, reg.state_of(member))


def may_be_about(reg: Register, form_id: str, member: Entity, on: str) -> bool:
    """Whether form ``form_id`` applies to ``member`` on ``on`` (and, for a form whose
    codes have rules of their own, whether at least one code does)."""
    rules = applicability()
    who = person(reg, member)
    if rules.form_refusal(form_id, who, on) is not None:
        return False
    rule = rules.rule(form_id)
    form = registry().form(form_id)
    for field, _attr in rule.codes if rule else ():
        fdef = form.field(field) if form else None
        if fdef is not None and not rules.allowed_codes(form_id, field, registry().choices(fdef),
                                                        who, on):
            return False
    return True


def eligible(reg: Register, household_id: str, form_id: str, on: str) -> list[Entity]:
    """Members of a household that form ``form_id`` may be about on day ``on``."""
    return [m for m in reg.members_of(household_id) if may_be_about(reg, form_id, m, on)]


def allowed_codes(reg: Register, form_id: str, field: str, member_id: Any,
                  on: str) -> list[str] | None:
    """The codes of ``field`` that may go to ``member_id`` (None: no rule narrows them)."""
    rules = applicability()
    rule = rules.rule(form_id)
    if rule is None or field not in dict(rule.codes):
        return None
    member = reg.get(member_id) if isinstance(member_id, str) else None
    fdef = registry().form(form_id).field(field)  # type: ignore[union-attr]
    who = person(reg, member) if member is not None else None
    return [c.code for c in rules.allowed_codes(form_id, field, registry().choices(fdef),
                                                who, on)]


def defaults(reg: Register, form_id: str, record: Mapping[str, Any],
             villages: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Suggested values for a new record of ``form_id`` given what it holds so far."""
    fv = FormView(form_id)
    out: dict[str, Any] = {v.name: dates.today() for v in fv.inputs(("member_id",))
                           if v.defaults_to_today}
    household = record.get("household_id")
    if form_id == "household":
        out.update(_household(reg, villages or []))
    elif form_id == "member" and household:
        out.update(_member(reg, household))
    elif form_id == "distribution" and household:
        out.update(_distribution(reg, household, record, out.get("distributed_on", "")))
    elif form_id == "birth" and household:
        out.update(_birth(reg, household, record, out.get("event_date", "")))
    elif form_id in ("stock_confirm", "stock_adjustment"):
        out.update(_stock(reg, form_id, record))
    elif form_id == "woman_status":
        member = reg.get(record.get("member_id") or "")
        children = reg.state_of(member).get("living_children") if member else None
        if children is not None:
            out["living_children"] = children
    return out


def _household(reg: Register, villages: list[dict[str, str]]) -> dict[str, Any]:
    numbers = [number_key(r.number) for r in reg.rows()]
    whole = [n[0] for n in numbers if n and n[0] < 1 << 30]
    out: dict[str, Any] = {"number": str(max(whole) + 1) if whole else "1"}
    if villages:
        out["village_code"] = villages[0]["code"]
    return out


def _member(reg: Register, household_id: str) -> dict[str, Any]:
    members = reg.members_of(household_id)
    if not members:
        return {"relation": "head", "residence_status": "present"}
    head = next((m for m in members if m.data.get("relation") == "head"), members[0])
    out = {"residence_status": "present"}
    if head.data.get("ethnicity"):
        out["ethnicity"] = head.data["ethnicity"]
    return out


def _distribution(reg: Register, household_id: str, record: Mapping[str, Any],
                  on: str) -> dict[str, Any]:
    """The household's last recipient and method, while they still may be given."""
    past = sorted((f for f in reg.facts.values() if f["form"] == "distribution"
                   and not f.get("voided") and f["record"].get("household_id") == household_id),
                  key=lambda f: (f["record"].get("distributed_on", ""), f.get("hlc", 0)))
    recipient = record.get("member_id")
    if recipient is None:
        for fact in reversed(past):
            member = reg.get(fact["record"].get("member_id") or "")
            if member is not None and may_be_about(reg, "distribution", member, on):
                recipient = member.id
                break
    if recipient is None:
        users = [m for m in eligible(reg, household_id, "distribution", on)
                 if _supplied(reg.state_of(m).get("current_method"))]
        recipient = users[0].id if len(users) == 1 else None
    out: dict[str, Any] = {"member_id": recipient} if recipient else {}
    allowed = allowed_codes(reg, "distribution", "method", recipient, on) or []
    mine = [f["record"] for f in past if f["record"].get("member_id") == recipient]
    member = reg.get(recipient) if recipient else None
    current = reg.state_of(member).get("current_method") if member else None
    for method in (*(r["method"] for r in reversed(mine)), current):
        if method in allowed:
            out["method"] = method
            break
    source = _source(reg, mine or [f["record"] for f in past])
    if source is not None:
        out["source"] = source
    return out


def _source(reg: Register, records: list[dict[str, Any]]) -> str | None:
    """How the contraceptive was supplied (distribution v2): as last time for this
    recipient or household, else as last on this phone, else the list's first code
    (the usual one: free of charge)."""
    form = registry().form("distribution")
    field = form.field("source") if form else None
    if field is None:
        return None
    if not records:
        records = [f["record"] for f in sorted(
            (f for f in reg.facts.values() if f["form"] == "distribution"),
            key=lambda f: f.get("hlc", 0))]
    for record in reversed(records):
        if record.get("source"):
            return record["source"]
    choices = registry().choices(field)
    return choices[0].code if choices else None


def _stock(reg: Register, form_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A confirmation: what the station issued; a count: the balance on the books."""
    if form_id == "stock_confirm":
        transfer = reg.facts.get(record.get("transfer_id") or "")
        return {"received_quantity": transfer["record"]["quantity"]} if transfer else {}
    method, area = record.get("method"), record.get("area_code")
    if not (method and area):
        return {}
    return {"book_balance": bag.on_hand(reg.facts, area).get(method, 0)}


def _supplied(method: Any) -> bool:
    code = registry().codelist("contraceptive_method").get(method) if method else None
    return bool(code and code.attrs.get("distributable"))


def _birth(reg: Register, household_id: str, record: Mapping[str, Any],
           on: str) -> dict[str, Any]:
    """The mother (the pregnant one, or the only one who can be) and her next birth order."""
    mother_id = record.get("member_id")
    if mother_id is None:
        mothers = eligible(reg, household_id, "birth", on)
        pregnant = [m for m in mothers if reg.state_of(m).get("pregnant")]
        chosen = pregnant if len(pregnant) == 1 else mothers
        mother_id = chosen[0].id if len(chosen) == 1 else None
    out: dict[str, Any] = {"member_id": mother_id} if mother_id else {}
    mother = reg.get(mother_id) if mother_id else None
    if mother is not None:
        known = reg.state_of(mother).get("living_children") or 0
        linked = sum(1 for m in reg.entities.values() if m.kind == "member" and m.visible
                     and m.data.get("mother_id") == mother.id)
        out["birth_order"] = max(known, linked) + 1
    return out
