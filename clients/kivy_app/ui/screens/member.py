"""One person: who they are, their state as the register folds it, what happened to
them (with where each change made here stands), and the changes that can be
recorded for them — only those that apply to them today."""

from __future__ import annotations

from typing import Any

from a0core.op_states import state_word
from clients.kivy_app.core import dates, suggest
from clients.kivy_app.core.formview import FormView, code_label, event_forms
from clients.kivy_app.core.notices import field_def
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.screens.household import age_words
from clients.kivy_app.ui.widgets import button, column, scroller, text

SHOWN = ("relation", "sex", "ethnicity", "marital_status", "residence_status", "id_number",
         "bhyt_number")
STATE_SHOWN = ("current_method", "living_children")


class MemberScreen(Screen):
    back = "household"  # the arrow shows; go_back says where it leads

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="member", **kw)

    @property
    def member(self) -> Any:
        return self.app.core.register.get(self.params.get("id", ""))

    def heading(self) -> str:
        found = self.member
        return found.data.get("full_name", "") if found else ""

    def go_back(self) -> None:
        found = self.member
        reg = self.app.core.register
        self.app.go("household", id=reg.household_of(found) if found else "")

    def body(self) -> Any:
        app, reg, found = self.app, self.app.core.register, self.member
        body = column()
        if found is None:
            body.add_widget(text(self.t("not_found")))
            return scroller(body)
        state = {**found.data, **{k: v for k, v in reg.state_of(found).items()
                                  if v is not None}}
        birth = field_def("member", "birth_date")
        lines = [f"{birth.label[app.lang]}: {age_words(app, found.data.get('birth_date'))}"
                 if birth else ""]
        for name in (*SHOWN, *STATE_SHOWN):
            if state.get(name) is None:
                continue
            f = field_def("member", name)
            label = f.label[app.lang] if f else name
            lines.append(f"{label}: {code_label(f, state[name], app.lang)}")
        if state.get("pregnant"):
            lines.append(self.t("pregnant"))
        for line in filter(None, lines):
            body.add_widget(text(line))
        today = dates.today()
        forms = [f for f in event_forms() if suggest.may_be_about(reg, f.id, found, today)]
        if forms:
            body.add_widget(text(self.t("record_event"), "H6"))
        context = {"household_id": reg.household_of(found), "member_id": found.id}
        for form in forms:
            app.w[f"event:{form.id}"] = button(form.title[app.lang], lambda fid=form.id: app.go(
                "form", form=fid, context=context, back=("member", {"id": found.id})),
                primary=False)
            body.add_widget(app.w[f"event:{form.id}"])
        if suggest.may_be_about(reg, "woman_status", found, today):
            app.w["member.woman"] = button(self.t("woman_status"), lambda: app.go(
                "form", form="woman_status", id=found.id, context={"member_id": found.id},
                back=("member", {"id": found.id})), primary=False)
            body.add_widget(app.w["member.woman"])
        app.w["member.edit"] = button(self.t("edit_member"), lambda: app.go(
            "form", form="member", id=found.id, back=("member", {"id": found.id})),
            primary=False)
        body.add_widget(app.w["member.edit"])
        history = reg.events_of(found.id)
        if history:
            body.add_widget(text(self.t("history"), "H6"))
            states = app.core.states_of([f["record"]["id"] for f in history])
            for fact in reversed(history):
                record = fact["record"]
                word = state_word(states[record["id"]], app.lang) \
                    if record["id"] in states else ""
                title = FormView(fact["form"]).title(app.lang)
                body.add_widget(text(" · ".join(filter(None, [
                    dates.show(record.get("event_date")), title, word,
                    self.t("voided") if fact.get("voided") else ""])), "Body2"))
        return scroller(body)
