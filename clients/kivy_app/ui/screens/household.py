"""One household: its members, what it was given lately, and what to do next
(hand out contraceptives, record a birth, add a member, edit the household)."""

from __future__ import annotations

from typing import Any

from a0core.schemas import registry
from clients.kivy_app.core import dates, suggest
from clients.kivy_app.core.formview import code_label
from clients.kivy_app.core.notices import field_def
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import TapCard, button, column, scroller, text


def age_words(app: Any, birth: Any) -> str:
    """"12/03/1990 (36 tuổi)", or the year alone with its age."""
    from a0core.applicability import age_range

    ages = age_range(birth, dates.today())
    if ages is None:
        return dates.show(birth)
    age = str(ages[1]) if ages[0] == ages[1] else f"{ages[0]}–{ages[1]}"
    return f"{dates.show(birth)} ({app.t('age', n=age)})"


class HouseholdScreen(Screen):
    back = "households"

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="household", **kw)

    @property
    def household(self) -> Any:
        return self.app.core.register.get(self.params.get("id", ""))

    def heading(self) -> str:
        found = self.household
        return self.t("household_no", n=found.data.get("number", "")) if found else ""

    def body(self) -> Any:
        app, reg, found = self.app, self.app.core.register, self.household
        body = column()
        if found is None:
            body.add_widget(text(self.t("not_found")))
            return scroller(body)
        d = found.data
        village = next((v["name"] for v in app.core.villages
                        if v["code"] == d.get("village_code")), "")
        body.add_widget(text(", ".join(filter(None, [d.get("address"), village])) or "—"))
        body.add_widget(text(self.t("members"), "H6"))
        for m in reg.members_of(found.id):
            rel = code_label(field_def("member", "relation"), m.data.get("relation"), app.lang)
            state = reg.state_of(m)
            gone = state.get("residence_status") in ("deceased", "moved_out")
            detail = f"{rel} · {age_words(app, m.data.get('birth_date'))}"
            if gone:
                detail += " · " + code_label(field_def("member", "residence_status"),
                                             state["residence_status"], app.lang)
            row = TapCard(m.data.get("full_name", ""), detail,
                          lambda mid=m.id: app.go("member", id=mid),
                          theme.MUTED if gone else None)
            app.w[f"member:{m.data.get('full_name', '')}"] = row
            body.add_widget(row)
        recent = self.recent()
        if recent:
            body.add_widget(text(self.t("recent"), "H6"))
            for line in recent:
                body.add_widget(text(line, "Body2"))
        today = dates.today()
        actions = [("household.distribution", "distribution",
                    lambda: self.open("distribution"))]
        if suggest.eligible(reg, found.id, "birth", today):
            actions.append(("household.birth", "record_birth",
                            lambda: self.open("birth", ask=("member_id",))))
        actions += [("household.add_member", "add_member", lambda: self.open("member")),
                    ("household.edit", "edit_household", lambda: app.go(
                        "form", form="household", id=found.id,
                        back=("household", {"id": found.id}))),
                    ("household.split", "split", lambda: app.go("split", id=found.id))]
        for name, key, action in actions:
            app.w[name] = button(self.t(key), action,
                                 primary=name not in ("household.edit", "household.split"))
            body.add_widget(app.w[name])
        return scroller(body)

    def open(self, form_id: str, ask: tuple[str, ...] = ()) -> None:
        hid = self.household.id
        self.app.go("form", form=form_id, context={"household_id": hid}, ask=ask,
                    back=("household", {"id": hid}))

    def recent(self) -> list[str]:
        """The household's last hand-outs: date, method, quantity, to whom."""
        app, reg = self.app, self.app.core.register
        method = registry().form("distribution").field("method")
        facts = sorted((f for f in reg.facts.values() if f["form"] == "distribution"
                        and not f.get("voided")
                        and f["record"].get("household_id") == self.household.id),
                       key=lambda f: f["record"].get("distributed_on", ""), reverse=True)
        lines = []
        for f in facts[:5]:
            r = f["record"]
            who = reg.get(r.get("member_id") or "")
            lines.append(" · ".join(filter(None, [
                dates.show(r.get("distributed_on")),
                f"{code_label(method, r.get('method'), app.lang)} × {r.get('quantity')}",
                who.data.get("full_name") if who else ""])))
        return lines
