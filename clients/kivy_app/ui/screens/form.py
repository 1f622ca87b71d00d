"""Any form of ``schemas/`` (household, member, woman's status, an event, a hand-out).

The fields, labels, choices and checks come from the form; what applies comes
from ``schemas/applicability.json``: a member field offers only the people the
form may be about, a code field only the codes that may go to the person chosen
(and follows when the person changes). Suggestions (today's date, the usual
recipient and method, the next birth order…) fill what the collaborator has not
touched. Saving says so, and where the change stands.

A hand-out says what the bag holds above its fields («Còn trong túi: …»); a
hand-out beyond it is refused beside the quantity, with the balance.

Params: ``form``; ``id`` to edit a record; ``lead`` a line above the fields;
``context`` (household, member, the transfer confirmed) fixed by where the form
was opened; ``ask`` context fields to ask all the same;
``values`` and ``errors`` to reopen a refused change, ``fixes`` its sequence number;
``back`` (screen, params) to return to, or ``open_saved`` (a screen) to show the
saved record on.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.metrics import dp

from a0core.applicability import applicability
from a0core.op_states import state_word
from clients.kivy_app.core import dates, suggest
from clients.kivy_app.core import stock as bag
from clients.kivy_app.core.formview import FieldView, FormView
from clients.kivy_app.core.outbox import PENDING
from clients.kivy_app.ui.fields import FieldInput
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import Dialog, button, column, scroller, text


class FormScreen(Screen):
    back = "households"  # the arrow shows; go_back says where it leads

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="form", **kw)
        self.inputs: dict[str, FieldInput] = {}

    def heading(self) -> str:
        return FormView(self.params["form"]).title(self.app.lang)

    def go_back(self) -> None:
        """Back (the arrow, «Huỷ», the phone's back key): what was typed or chosen is
        not dropped without asking."""
        self.leave_or_ask(any(f.touched for f in self.inputs.values()), self.leave)

    def leave(self) -> None:
        screen, params = self.params.get("back") or ("households", {})
        self.app.go(screen, **params)


    # ------------------------------------------------------------ drawing

    def body(self) -> Any:
        app, p = self.app, self.params
        reg = app.core.register
        self.fv = fv = FormView(p["form"])
        entity_id = p.get("id")
        self.existing = reg.get(entity_id) if entity_id else None
        self.context = dict(p.get("context") or {})
        current: dict[str, Any] = dict(self.existing.data) if self.existing else {}
        current.update(p.get("values") or {})
        member = self.existing if self.existing and self.existing.kind == "member" else None
        self.household = self.context.get("household_id") or (  # where the choices come from
            reg.household_of(member) if member else
            self.existing.household_id if self.existing else None)
        if self.existing is None and not p.get("values"):
            current.update(suggest.defaults(reg, fv.id, {**self.context, **current},
                                            app.core.villages))
        self.inputs = {}
        self.ask = tuple(p.get("ask") or ())
        body = column()
        lead = p.get("lead") or (self.stock_line() if fv.id == "distribution" else "")
        app.w["form.lead"] = text(lead, "Subtitle1", bold=True)
        body.add_widget(app.w["form.lead"])
        for view in fv.inputs(self.ask):
            field = FieldInput(view, app.lang, self.options(view, current), current.get(view.name),
                               on_change=self.changed)
            self.inputs[view.name] = field
            app.w[f"form.{view.name}"] = field
            body.add_widget(field)
        self.follow(current)
        self.relevance()
        self.scroll = scroller(body)
        if p.get("errors"):
            self.show(p["errors"])
        return self.scroll

    def foot(self) -> list[Any]:
        app = self.app
        app.w["form.cancel"] = button(self.t("cancel"), self.go_back, primary=False,
                                      size_hint_x=0.4)
        app.w["form.save"] = button(self.t("save"), self.save, size_hint_x=0.6)
        return [app.w["form.cancel"], app.w["form.save"]]

    def stock_line(self) -> str:
        """What the bag holds, above a hand-out (none: the commune keeps no ledger yet)."""
        held = self.app.core.stock_on_hand()
        return self.t("stock_on_hand", items=" · ".join(
            bag.amount(method, n, self.app.lang, " ") for method, n in bag.in_list_order(held))
        ) if held else ""

    def options(self, view: FieldView, current: dict[str, Any]) -> list[tuple[str, str]]:
        """What a choice offers: codes, the household's members, the area's villages."""
        app, reg = self.app, self.app.core.register
        if view.widget == "choice":
            return [(c.code, c.label(app.lang)) for c in view.choices]
        if view.widget == "place":
            return [(v["code"], v["name"]) for v in app.core.villages]
        members = reg.members_of(self.household or "")
        rule = applicability().rule(self.fv.id)
        if rule is not None and rule.subject == view.name:
            on = current.get(rule.on) or dates.today()
            members = [m for m in members if suggest.may_be_about(reg, self.fv.id, m, on)]
        own = self.context.get("member_id") or (self.existing.id if self.existing else None)
        return [(m.id, m.data.get("full_name", "")) for m in members if m.id != own]

    # ------------------------------------------------------------ changes

    def record(self) -> dict[str, Any]:
        return {name: self.fv.parse(f.view, f.value()) for name, f in self.inputs.items()}

    def changed(self, field: FieldInput) -> None:
        if field.view.widget in ("member", "choice", "check"):
            self.follow(self.record())
        self.relevance()

    def follow(self, record: dict[str, Any]) -> None:
        """Codes that may go to the person chosen, and suggestions that depend on them."""
        reg = self.app.core.register
        rule = applicability().rule(self.fv.id)
        if rule is not None:
            subject = record.get(rule.subject) or self.context.get(rule.subject)
            on = record.get(rule.on) or dates.today()
            for name, _attr in rule.codes:
                field = self.inputs.get(name)
                allowed = suggest.allowed_codes(reg, self.fv.id, name, subject, on)
                if field is not None and allowed is not None:
                    field.set_options([(c.code, c.label(self.app.lang))
                                       for c in field.view.choices if c.code in allowed])
        if self.existing is None:
            wanted = suggest.defaults(reg, self.fv.id, {**self.context, **{
                k: v for k, v in record.items() if v is not None}}, self.app.core.villages)
            for name, value in wanted.items():
                if name in self.inputs:
                    self.inputs[name].set_default(value)

    def relevance(self) -> None:
        """Show the fields whose condition holds on what is filled in so far."""
        shown = {v.name for v in self.fv.visible(self.record(), self.ask)}
        for name, f in self.inputs.items():
            visible = name in shown
            if visible != f.disabled:
                continue  # as it was: a change of layout only when one is due
            f.disabled = not visible
            f.opacity = 1 if visible else 0
            f.adaptive_height = visible
            if not visible:
                f.height = 0

    # --------------------------------------------------------------- save

    def show(self, errors: dict[str, list[tuple[str, str]]]) -> None:
        lang = self.app.lang
        for name, f in self.inputs.items():
            f.show_errors([vi if lang == "vi" else en for vi, en in errors.get(name, [])])
        other = [vi if lang == "vi" else en for name, msgs in errors.items()
                 if name not in self.inputs for vi, en in msgs]
        self.say("\n".join([self.t("fix_errors")] * bool(errors) + other), error=True)
        first = next((f for f in self.inputs.values() if f.error_text), None)
        if first is not None:  # the first field to fix in view, not scrolled away above
            Clock.schedule_once(lambda *_: self.scroll.scroll_to(first, padding=dp(24),
                                                                 animate=False))

    def save(self) -> None:
        core, fv = self.app.core, self.fv
        record = self.record()
        visible = {v.name for v in fv.visible(record, self.ask)}
        values = {k: v for k, v in record.items() if k in visible}
        if self.existing is not None:
            values.update({k: None for k in self.inputs if k not in values
                           and k in self.existing.data})
        if fv.form.kind == "entity":
            result = core.save_entity(fv.id, values, self.existing.id if self.existing else None,
                                      self.context)
        else:
            result = core.record_fact(fv.id, values, self.context)
        if not result.ok:
            self.show(result.errors)
            return
        if self.params.get("fixes") is not None:  # saved from a refusal: it is answered
            core.mark_fixed(self.params["fixes"])
        if self.params.get("open_saved"):  # a new household: its members come next
            self.app.go(self.params["open_saved"], id=result.id)
        else:
            self.leave()
        if result.warnings:  # kept, with something to check: said at once, and read
            self.warn(result.warnings)
            return
        self.app.snack(self.t("saved", state=state_word(PENDING, self.app.lang))
                       if result.op is not None else self.t("nothing_changed"))

    def warn(self, warnings: dict[str, list[tuple[str, str]]]) -> None:
        """Saved, with something to check (an identification number that says another sex
        or year of birth); the server's verdict says it again among the notices."""
        lang = self.app.lang
        words = "\n".join(vi if lang == "vi" else en
                          for messages in warnings.values() for vi, en in messages)
        dialog = Dialog(self.t("check_title"), words, self.t("understood"))
        self.app.w.update({"warning.text": dialog.words, "warning.ok": dialog.ok})
        dialog.open()
