"""Who a form may be about, and who a code may be given to (``schemas/applicability.json``).

Pills to women 15–49, an elderly check-up at 60 and over, no event for someone who
has died: the app offers only the forms, recipients and codes whose rule holds,
and the server refuses an operation that breaks a rule of sex or age
(``not_applicable``), with the same words. Both read the rules here, from the
same file.

A rule reads one person (the record's ``subject`` field) on one day (the record's
``on`` field): sex, age in completed years, and residence and marital status (as
the register folds them; the marital status as it is now: no marriage for someone
married). It refuses only what it knows to be wrong: a year-only
birth date passes when either age it allows does, an unknown status passes, and a
death or a move-out counts from the day after its date (a mother who dies giving
birth still gives birth). The rules are about the person, not about the record's
shape, so they hold for every version of a form.

Status and order: the app judges them all, the server sex and age only. A
refusal by status would make the register depend on the order in which
operations arrive (an elderly check-up of March applied when it comes first,
refused when the person's death of February, carried by hand, came before it),
and DESIGN §2 wants the same register whatever the order. Sex and age are read
from the person's record, which an operation about an event does not change.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from a0core.errors import A0Error
from a0core.schemas import Code, Registry, SchemaDefinitionError, registry

# the statuses a rule may read, each with its code list (a residence status is judged on
# the rule's day, the register dating its ends; a marital status as it is now)
STATUS_LISTS = {"residence_status": "residence_status", "marital_status": "marital_status"}
# a status that ends on a date the register keeps (a fold state field)
STATUS_SINCE = {"deceased": "death_date", "moved_out": "moved_out_on"}


@dataclass(frozen=True)
class Who:
    """Whom something applies to; empty parts do not restrict."""

    sex: tuple[str, ...] = ()
    age_min: int | None = None
    age_max: int | None = None
    status: tuple[tuple[str, frozenset[str]], ...] = ()


@dataclass(frozen=True)
class FormRule:
    form: str
    subject: str              # the field naming the person (a member ref, or the key)
    on: str                   # the date field the person is judged on
    who: Who
    codes: tuple[tuple[str, str], ...] = ()  # (code field, attribute with a rule per code)


@dataclass(frozen=True)
class NotApplicable:
    """Why something does not apply, in both languages, and the field it concerns."""

    field: str
    what_vi: str
    what_en: str
    reason_vi: str
    reason_en: str

    def error(self) -> A0Error:
        return A0Error("not_applicable", field=self.field, what_vi=self.what_vi,
                       what_en=self.what_en, reason_vi=self.reason_vi, reason_en=self.reason_en)

    def text(self, lang: str) -> str:
        return self.error().vi if lang == "vi" else self.error().en


def age_range(birth: Any, on: str) -> tuple[int, int] | None:
    """The completed years on ``on`` (ISO date) of someone born on ``birth`` (ISO date or
    year): one age, or the two a year alone allows. None when unknown or unreadable."""
    if not isinstance(birth, str) or not birth:
        return None
    try:
        day = dt.date.fromisoformat(on[:10])
        if len(birth) == 4:
            years = day.year - int(birth)
            return max(years - 1, 0), max(years, 0)
        born = dt.date.fromisoformat(birth)
    except ValueError:
        return None
    years = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    return years, years


def status_at(person: Mapping[str, Any], name: str, on: str) -> str | None:
    """The person's status ``name`` on day ``on``: a death or move-out dated on or after
    that day did not yet hold (then the status before it is unknown: None)."""
    value = person.get(name)
    since = STATUS_SINCE.get(value) if name == "residence_status" else None
    if since is not None and person.get(since) and str(person[since]) >= on:
        return None
    return value


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 10


class Applicability:
    """The rules of one schemas folder, checked against its forms and code lists."""

    def __init__(self, reg: Registry) -> None:
        self.registry = reg
        path = reg.root / "applicability.json"
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"forms": {}}
        self.sets = {k: frozenset(v) for k, v in (raw.get("sets") or {}).items()}
        self.rules = {form_id: self._rule(path, form_id, spec)
                      for form_id, spec in raw["forms"].items()}
        self._code_rules: dict[tuple[str, str], Who | None] = {}

    # ------------------------------------------------------------- loading

    def _who(self, path: Path, where: str, spec: Mapping[str, Any]) -> Who:
        unknown = set(spec) - {"sex", "age", "status"}
        if unknown:
            raise SchemaDefinitionError(f"{path}: {where}: unknown keys {sorted(unknown)}")
        sexes = self.registry.codelist("sex")
        sex = tuple(spec.get("sex") or ())
        if any(sexes.get(s) is None for s in sex):
            raise SchemaDefinitionError(f"{path}: {where}: unknown sex in {sex}")
        age = spec.get("age") or {}
        if set(age) - {"min", "max"} or not all(type(v) is int and v >= 0
                                                 for v in age.values()):
            raise SchemaDefinitionError(f"{path}: {where}: bad age {age}")
        status = []
        for name, codes in (spec.get("status") or {}).items():
            allowed = self.sets.get(codes) if isinstance(codes, str) else frozenset(codes)
            listed = self.registry.codelist(STATUS_LISTS.get(name, "sex"))
            if name not in STATUS_LISTS or not allowed or any(listed.get(c) is None
                                                              for c in allowed):
                raise SchemaDefinitionError(f"{path}: {where}: bad status {name}: {codes}")
            status.append((name, allowed))
        return Who(sex, age.get("min"), age.get("max"), tuple(status))

    def _rule(self, path: Path, form_id: str, spec: Mapping[str, Any]) -> FormRule:
        forms = [f for (fid, _v), f in self.registry.forms.items() if fid == form_id]
        if not forms:
            raise SchemaDefinitionError(f"{path}: unknown form {form_id!r}")
        subject, on = spec.get("subject"), spec.get("on")
        codes = tuple((spec.get("codes") or {}).items())
        for form in forms:  # every version must have the fields the rule reads
            s, d = form.field(subject or ""), form.field(on or "")
            if s is None or not (s.type == "ref" and s.entity == "member"):
                raise SchemaDefinitionError(f"{path}: {form_id}: subject must be a member ref")
            if d is None or d.type != "date":
                raise SchemaDefinitionError(f"{path}: {form_id}: 'on' must be a date field")
            for name, attr in codes:
                f = form.field(name)
                if f is None or f.type != "code":
                    raise SchemaDefinitionError(f"{path}: {form_id}: {name} is not a code field")
                for code in self.registry.codelist(f.codelist or "").codes:
                    if attr in code.attrs:
                        self._who(path, f"{f.codelist}.{code.code}.{attr}", code.attrs[attr])
        who = self._who(path, form_id, {k: v for k, v in spec.items()
                                        if k not in {"subject", "on", "codes"}})
        return FormRule(form_id, subject or "", on or "", who, codes)

    def _code_who(self, attr: str, code: Code) -> Who | None:
        key = (attr, code.code)
        if key not in self._code_rules:
            spec = code.attrs.get(attr)
            self._code_rules[key] = self._who(self.registry.root, key[1], spec) if spec else None
        return self._code_rules[key]

    # -------------------------------------------------------------- checks

    def rule(self, form_id: str) -> FormRule | None:
        return self.rules.get(form_id)

    def form_refusal(self, form_id: str, person: Mapping[str, Any] | None, on: str,
                     status: bool = True) -> NotApplicable | None:
        """Why form ``form_id`` does not apply to ``person`` on ``on`` (None: it does);
        without ``status``, by sex and age alone."""
        rule = self.rules.get(form_id)
        if rule is None or person is None or not _is_date(on):
            return None
        reason = self._refusal(rule.who, person, on, status)
        if reason is None:
            return None
        form = self.registry.form(form_id)
        title = form.title if form else {"vi": form_id, "en": form_id}
        return NotApplicable(rule.subject, f"«{title['vi']}»", f"«{title['en']}»", *reason)

    def code_refusal(self, form_id: str, field: str, code: str,
                     person: Mapping[str, Any] | None, on: str) -> NotApplicable | None:
        """Why code ``code`` of field ``field`` cannot be given to ``person`` on ``on``."""
        rule = self.rules.get(form_id)
        attr = dict(rule.codes).get(field) if rule else None
        form = self.registry.form(form_id)
        fdef = form.field(field) if form else None
        if attr is None or fdef is None or person is None or not _is_date(on):
            return None
        found = self.registry.codelist(fdef.codelist or "").get(code)
        who = self._code_who(attr, found) if found else None
        reason = self._refusal(who, person, on) if who else None
        if reason is None or found is None:
            return None
        return NotApplicable(field, f"«{found.vi}»", f"«{found.en}»", *reason)

    def check(self, form_id: str, record: Mapping[str, Any], person: Mapping[str, Any] | None,
              status: bool = True) -> NotApplicable | None:
        """The first rule a whole record breaks, its form's or its codes'. The server
        passes ``status=False``: see :data:`~a0core.applicability` (status and order)."""
        rule = self.rules.get(form_id)
        if rule is None or person is None:
            return None
        on = record.get(rule.on) or ""
        found = self.form_refusal(form_id, person, on, status)
        for name, _attr in rule.codes:
            if found is None and record.get(name) is not None:
                found = self.code_refusal(form_id, name, record[name], person, on)
        return found

    def allowed_codes(self, form_id: str, field: str, codes: Iterable[Code],
                      person: Mapping[str, Any] | None, on: str) -> list[Code]:
        """The codes of a choice that may be given to ``person`` (all of them without one)."""
        return [c for c in codes
                if self.code_refusal(form_id, field, c.code, person, on) is None]

    # -------------------------------------------------------------- words

    def _refusal(self, who: Who, person: Mapping[str, Any], on: str,
                 status: bool = True) -> tuple[str, str] | None:
        sexes = self.registry.codelist("sex")
        sex = person.get("sex")
        if who.sex and sex is not None and sex not in who.sex:
            label = sexes.get(sex)
            vi_is, en_is = (label.vi.lower(), label.en.lower()) if label else (sex, sex)
            vi, en = self._only_for(who)
            return f"{vi} (người này là {vi_is})", f"{en} (this person is {en_is})"
        ages = age_range(person.get("birth_date"), on)
        if ages is not None and ((who.age_min is not None and ages[1] < who.age_min)
                                 or (who.age_max is not None and ages[0] > who.age_max)):
            shown = str(ages[0]) if ages[0] == ages[1] else f"{ages[0]}–{ages[1]}"
            vi, en = self._only_for(who)
            return f"{vi} (người này {shown} tuổi)", f"{en} (this person is {shown})"
        for name, allowed in who.status if status else ():
            value = status_at(person, name, on)
            if value is not None and value not in allowed:
                fdef = self.registry.field_def("member", name)
                code = self.registry.codelist(STATUS_LISTS[name]).get(value)
                label_vi = fdef.label["vi"] if fdef else name
                label_en = fdef.label["en"] if fdef else name
                shown_vi, shown_en = (code.vi, code.en) if code else (value, value)
                return (f"{label_vi[0].lower()}{label_vi[1:]} của người này là «{shown_vi}»",
                        f"this person's {label_en[0].lower()}{label_en[1:]} is «{shown_en}»")
        return None

    def _only_for(self, who: Who) -> tuple[str, str]:
        """"chỉ dành cho phụ nữ từ 15 đến 49 tuổi" / "only for women aged 15 to 49"."""
        sexes = [self.registry.codelist("sex").get(s) for s in who.sex]
        group_vi = " và ".join(c.attrs.get("group_vi", c.vi) for c in sexes if c) or "người"
        group_en = " and ".join(c.attrs.get("group_en", c.en) for c in sexes if c) or "people"
        low, high = who.age_min, who.age_max
        if low is not None and high is not None:
            vi, en = f" từ {low} đến {high} tuổi", f" aged {low} to {high}"
        elif low is not None:
            vi, en = f" từ {low} tuổi trở lên", f" aged {low} and over"
        elif high is not None:
            vi, en = f" dưới {high + 1} tuổi", f" under {high + 1}"
        else:
            vi = en = ""
        return f"chỉ dành cho {group_vi}{vi}", f"only for {group_en}{en}"


@cache
def _default() -> Applicability:
    return Applicability(registry())


def applicability(reg: Registry | None = None) -> Applicability:
    """The rules of ``reg``'s schemas folder (the configured one, loaded once, by default)."""
    return _default() if reg is None or reg is registry() else Applicability(reg)


def person_of(data: Mapping[str, Any], state: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a rule reads of a member: the merged record, with the folded state over it."""
    person = dict(data)
    person.update({k: v for k, v in (state or {}).items() if v is not None})
    return person
