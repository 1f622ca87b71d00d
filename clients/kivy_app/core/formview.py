"""Forms as the app shows them, read from ``schemas/`` through :mod:`a0core`.

Nothing here names a field of a particular form: the field list, labels, code
choices, required and conditional rules all come from the registry, and a record
is checked by the very same marshmallow schema the server uses
(:class:`a0core.forms.FormSet`). The app only decides which fields it fills in
itself from where the form was opened (ids, the area, the household, the member).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from a0core.errors import A0Error, ValidationFailed
from a0core.schemas import FieldDef, FormDef, Registry, registry
from clients.kivy_app.core import dates

if TYPE_CHECKING:
    from a0core.forms import FormSet

# Fields the app fills from context instead of asking (ids, area, parent records).
CONTEXT_REFS = ("household_id", "member_id")


@dataclass(frozen=True)
class Choice:
    code: str
    vi: str
    en: str

    def label(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


def sentences(*parts: str) -> str:
    """Texts read one after another (a field's help, then how to type a date), each
    ending as a sentence: «… ghi năm sinh. Ghi ngày/tháng/năm …», not «năm sinh Ghi»."""
    said = [p.strip() for p in parts if p and p.strip()]
    return " ".join(p if p[-1] in ".!?…:" else p + "." for p in said)


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
    help_vi: str = ""
    help_en: str = ""

    def label(self, lang: str) -> str:
        return self.label_vi if lang == "vi" else self.label_en

    def help(self, lang: str) -> str:
        return self.help_vi if lang == "vi" else self.help_en

    @property
    def widget(self) -> str:
        """text | number | date | choice | member | place | check: what the UI draws."""
        if self.type == "code":
            return "choice"
        if self.type == "orgunit":
            return "place"  # a village, chosen by name
        if self.type == "ref":
            return "member"
        if self.type == "boolean":
            return "check"
        if self.type in {"integer", "number"}:
            return "number"
        if self.type in dates.DATE_TYPES:
            return "date"
        return "text"

    @property
    def defaults_to_today(self) -> bool:
        """The day of an event, a hand-out or a status record: most often today."""
        return self.type == "date" and self.required and self.relevant is None


@cache
def formset() -> FormSet:
    """The validators, made when the first form is checked: :mod:`a0core.forms` brings
    marshmallow, which the household list (the first screen) has no use for."""
    from a0core.forms import FormSet

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
                         f.help.get("vi", ""), f.help.get("en", ""))

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

    def inputs(self, ask: tuple[str, ...] = ()) -> list[FieldView]:
        """Every field the collaborator may fill, in the form's order; ``ask`` names
        context fields to ask for all the same (the mother, when a birth is recorded
        from the household rather than from her page)."""
        hidden = self.context_fields() - set(ask)
        return [self._view(f) for f in self.form.fields if f.name not in hidden]

    def visible(self, record: Mapping[str, Any], ask: tuple[str, ...] = ()) -> list[FieldView]:
        """The inputs whose ``relevant`` condition holds on what is typed so far."""
        from a0core.forms import condition_holds  # see formset()

        return [v for v in self.inputs(ask)
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
        A date is typed dd/mm/yyyy (or a year, where the form allows one); one that
        does not read is passed through as typed, and :meth:`check` says the format.
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
            if view.type in dates.DATE_TYPES:
                return dates.parse(text, view.type == "partial_date") or text
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
        unread = {name: self._date_format(name) for name, value in data.items()
                  if self._unread_date(name, value)}
        errors: dict[str, list[tuple[str, str]]] = {
            name: [(e.vi, e.en)] for name, e in unread.items()}
        try:
            clean = formset().validate(self.id, self.version, data)
        except ValidationFailed as failed:
            for e in failed.errors:
                name = str(e.params.get("field") or "")
                if name not in unread:
                    errors.setdefault(name, []).append((e.vi, e.en))
            return None, errors
        return (None, errors) if errors else (clean, {})

    def _unread_date(self, name: str, value: Any) -> bool:
        f = self.form.field(name)
        return (f is not None and f.type in dates.DATE_TYPES and isinstance(value, str)
                and dates.parse(value, f.type == "partial_date") != value)

    def _date_format(self, name: str) -> A0Error:
        """The refusal of a date that does not read: the format expected, with examples."""
        f = self.form.field(name)
        assert f is not None
        code = "app_date_or_year_format" if f.type == "partial_date" else "app_date_format"
        return A0Error(code, field=name, label_vi=f.label["vi"], label_en=f.label["en"],
                       example=dates.example(), year="1990")


    def warnings(self, clean: Mapping[str, Any],
                 written: Collection[str] | None = None) -> dict[str, list[tuple[str, str]]]:
        """{field: [(vi, en), …]}: what to check on a valid record that is kept all the
        same (the server's own warnings; ``written``: the fields an edit changed)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for w in formset().validator(self.id, self.version).warnings(clean, written):
            out.setdefault(str(w.params.get("field") or ""), []).append((w.vi, w.en))
        return out


def event_forms(reg: Registry | None = None) -> list[FormDef]:
    """The change-slip event forms a member's screen offers (latest versions, in the
    registry's order): those whose every reference the app fills from the screen. A
    form that also names another household (a change of household) has a flow of its
    own (the household's "split" screen)."""
    return [f for f in (reg or registry()).latest_forms() if f.kind == "event"
            and all(x.name in CONTEXT_REFS for x in f.fields
                    if x.type == "ref" and x.entity == "household")]


def code_label(field: FieldDef | None, value: Any, lang: str = "vi") -> str:
    """How a stored value reads to a person (a code's label rather than the code)."""
    if value is None:
        return "—"
    if field is not None and field.type == "code" and field.codelist:
        code = registry().codelist(field.codelist).get(str(value))
        if code is not None:
            return code.vi if lang == "vi" else code.en
    return str(value)
