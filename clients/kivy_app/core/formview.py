"""Forms as the app shows them, read from ``schemas/`` through :mod:`a0core`.

Nothing here names a field of a particular form: the field list, labels, code
choices, required and conditional rules all come from the registry, and a record
is checked by the very same marshmallow schema the server uses
(:class:`a0core.forms.FormSet`). The app only decides which fields it fills in
itself from where the form was opened (ids, the area, the household, the member).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from a0core.errors import ValidationFailed
from a0core.forms import FormSet, condition_holds
from a0core.schemas import FieldDef, FormDef, Registry, registry

# Fields the app fills from context instead of asking (ids, area, parent records).
CONTEXT_REFS = ("household_id", "member_id")


@dataclass(frozen=True)
class Choice:
    code: str
    vi: str
    en: str

    def label(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True)
class FieldView:
    """One input as shown: kind of widget, labels, choices, and whether it is required."""

    name: str
    type: str
    label_vi: str
    label_en: str
    required: bool
    choices: tuple[Choice, ...] = ()
    ref_entity: str | None = None
    relevant: Mapping[str, Any] | None = None
    hint: str = ""

    def label(self, lang: str) -> str:
        return self.label_vi if lang == "vi" else self.label_en

    @property
    def widget(self) -> str:
        """text | number | choice | member | check: what the UI draws for it."""
        if self.type == "code":
            return "choice"
        if self.type == "ref":
            return "member"
        if self.type == "boolean":
            return "check"
        if self.type in {"integer", "number"}:
            return "number"
        return "text"


_HINTS = {"date": "YYYY-MM-DD", "partial_date": "YYYY-MM-DD / YYYY", "month": "YYYY-MM"}


@cache
def formset() -> FormSet:
    return FormSet(registry())


class FormView:
    """The latest version of one form, ready to draw and check."""

    def __init__(self, form_id: str, reg: Registry | None = None) -> None:
        self.registry = reg or registry()
        form = self.registry.form(form_id)
        if form is None:
            raise KeyError(form_id)
        self.form: FormDef = form
        self.id = form.id
        self.version = form.version

    def title(self, lang: str = "vi") -> str:
        return self.form.title.get(lang) or self.form.id

    def _view(self, f: FieldDef) -> FieldView:
        choices: tuple[Choice, ...] = ()
        if f.type == "code":
            choices = tuple(Choice(c.code, c.vi, c.en) for c in self.registry.choices(f))
        return FieldView(f.name, f.type, f.label["vi"], f.label["en"], f.required, choices,
                         f.entity if f.type == "ref" else None, f.relevant,
                         _HINTS.get(f.type, ""))

    def context_fields(self) -> set[str]:
        """Filled by the app: the record's own id, uuids it mints, the area, the parents."""
        out = set()
        for f in self.form.fields:
            minted = f.name in ("id", self.form.key_field) or f.type in {"uuid", "orgunit"}
            if minted and f.name != "village_code":
                out.add(f.name)
            if f.type == "ref" and f.name in CONTEXT_REFS and not f.options.get("soft") \
                    and f.required:
                out.add(f.name)
        return out

    def inputs(self) -> list[FieldView]:
        """Every field the collaborator may fill, in the form's order."""
        hidden = self.context_fields()
        return [self._view(f) for f in self.form.fields if f.name not in hidden]

    def visible(self, record: Mapping[str, Any]) -> list[FieldView]:
        """The inputs whose ``relevant`` condition holds on what is typed so far."""
        return [v for v in self.inputs()
                if v.relevant is None or condition_holds(v.relevant, record)]

    def new_ids(self) -> dict[str, str]:
        """Fresh UUIDs for the id fields the app mints (the record id, a birth's child)."""
        return {f.name: str(uuid.uuid4()) for f in self.form.fields
                if (f.type == "uuid" and f.name != self.form.key_field) or f.name == "id"}

    @staticmethod
    def parse(view: FieldView, text: Any) -> Any:
        """Turn what a widget holds into a JSON value (blank → ``None``).

        A number that does not parse is passed through as text: the form's own
        check then reports it with its code (``field_type``), as the server would.
        """
        if text is None:
            return None
        if isinstance(text, str):
            text = text.strip()
            if not text:
                return None
            if view.type == "integer":
                try:
                    return int(text)
                except ValueError:
                    return text
            if view.type == "number":
                try:
                    return float(text.replace(",", "."))
                except ValueError:
                    return text
        return text

    def check(self, record: Mapping[str, Any]) -> tuple[dict[str, Any] | None,
                                                      dict[str, list[tuple[str, str]]]]:
        """(clean record, {}) or (None, {field: [(vi, en), …]}) — the server's own checks.

        Values of fields that are not relevant are dropped first, since the form
        hides them.
        """
        shown = {v.name for v in self.inputs()}
        visible = {v.name for v in self.visible(record)}
        data = {k: v for k, v in record.items()
                if v is not None and (k not in shown or k in visible)}
        try:
            return formset().validate(self.id, self.version, data), {}
        except ValidationFailed as failed:
            errors: dict[str, list[tuple[str, str]]] = {}
            for e in failed.errors:
                errors.setdefault(str(e.params.get("field") or ""), []).append((e.vi, e.en))
            return None, errors


def event_forms(reg: Registry | None = None) -> list[FormDef]:
    """Every change-slip event form (latest versions), in the registry's order."""
    return [f for f in (reg or registry()).latest_forms() if f.kind == "event"]


def code_label(field: FieldDef | None, value: Any, lang: str = "vi") -> str:
    """How a stored value reads to a person (a code's label rather than the code)."""
    if value is None:
        return "—"
    if field is not None and field.type == "code" and field.codelist:
        code = registry().codelist(field.codelist).get(str(value))
        if code is not None:
            return code.vi if lang == "vi" else code.en
    return str(value)
