"""Sync: where every change made here stands, in the shared words of
``schemas/protocol/op_states.json``; what the server said back (refusals open
their record to be fixed); send now, or export a file to carry."""

from __future__ import annotations

from typing import Any

from a0core.op_states import op_states, state_word
from a0core.sync_client import verdict_warnings
from clients.kivy_app.core import dates
from clients.kivy_app.core.clock import shown
from clients.kivy_app.core.formview import FormView
from clients.kivy_app.core.notices import describe, subject
from clients.kivy_app.core.outbox import counted
from clients.kivy_app.core.stock import number
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import TapCard, button, column, privacy, scroller, text

SHOWN_CHANGES = 40  # the newest; the counts above cover every one


class SyncScreen(Screen):
    back = "households"

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="sync", **kw)

    def heading(self) -> str:
        return self.t("sync_title")

    def body(self) -> Any:
        app, core = self.app, self.app.core
        body = column()
        counts = core.state_counts()
        lines = [counted(code, counts[code], app.lang) for code in op_states()
                 if counts.get(code)]
        summary = text("\n".join(lines) or self.t("nothing_yet"))
        app.w["sync.summary"] = summary
        body.add_widget(summary)
        last = core.last_sync()
        if last.get("at_ms"):
            body.add_widget(text(self.t("last_sync", at=shown(last["at_ms"])), "Body2",
                                 theme.MUTED))
        off = core.clock_off()
        if off is not None:  # still off as last measured: the dates follow the server's
            app.w["sync.clock"] = text(off.vi if app.lang == "vi" else off.en, "Body1",
                                       theme.ERROR, bold=True)
            body.add_widget(app.w["sync.clock"])
        for n, gap in enumerate(core.missing()):  # what the server never got, and what to do
            app.w[f"sync.missing.{n}"] = line = text(gap[app.lang], "Body1", theme.ERROR,
                                                     bold=True)
            body.add_widget(line)
        notes = core.notices()[:50]
        if notes:
            body.add_widget(text(self.t("notices"), "H6"))
        for note in notes:
            words = note["vi"] if app.lang == "vi" else note["en"]
            if note["fixed"]:
                words = f"{self.t('fixed')}: {words}"
                app.w[f"notice.fixed:{note['seq']}"] = line = text(words, "Body2", theme.MUTED)
                body.add_widget(line)
            elif note["kind"] in ("rejected", "warning"):  # a tap opens the record to fix
                refused = note["kind"] == "rejected"
                fix = TapCard(state_word("rejected", app.lang) if refused
                              else self.t("check_title"), words,
                              lambda seq=note["seq"]: self.fix(seq),
                              theme.ERROR if refused else None)
                app.w[f"notice.{note['kind']}:{note['seq']}"] = fix
                body.add_widget(fix)
            else:
                body.add_widget(text(words, "Body2"))
        rows = core.outbox_rows(limit=SHOWN_CHANGES)
        if rows:
            body.add_widget(text(self.t("changes"), "H6"))
        fixed = core.fixed()
        for row in rows:
            body.add_widget(text(self.line(row, row["seq"] in fixed), "Body2",
                                 theme.ERROR if row["state"] == "rejected"
                                 and row["seq"] not in fixed else None))
        privacy(body, "sync.privacy")
        return scroller(body)

    def line(self, row: dict[str, Any], fixed: bool = False) -> str:
        """"#12 · Sinh · Nguyễn Thị An (hộ số 3) · 03/12/2026 · Đã lưu trên máy — lý do"."""
        app = self.app
        op, verdict = row["op"], row["verdict"] or {}
        form = FormView(op["form"]).title(app.lang) if op.get("form") else ""
        fields = op.get("fields") or {}
        reg = app.core.register
        about = subject(op)  # no id shown: a record not on the phone goes by its form
        who_vi, who_en = describe(reg, about) if reg.get(about) else ("", "")
        day = fields.get("event_date") or fields.get("distributed_on")
        key = "message_vi" if app.lang == "vi" else "message_en"
        checks = verdict_warnings(verdict)  # kept, with something to check: say what
        reason = "; ".join(w[key] for w in checks) if checks else verdict.get(key, "")
        parts = [f"#{row['seq']}", form, who_vi if app.lang == "vi" else who_en,
                 dates.show(day) if day else "", state_word(row["state"], app.lang),
                 self.t("fixed") if fixed else ""]
        return " · ".join(filter(None, parts)) + (f" — {reason}" if reason else "")

    def foot(self) -> list[Any]:
        app = self.app
        app.w["sync.export"] = button(self.t("export"), self.export, primary=False,
                                      size_hint_x=0.45)
        app.w["sync.now"] = button(self.t("sync_now"), self.sync_now, size_hint_x=0.55)
        return [app.w["sync.export"], app.w["sync.now"]]

    def sync_now(self) -> None:
        if self.app.in_background(self.app.core.sync, self.synced):
            self.say(self.t("syncing"))

    def synced(self, report: Any) -> None:
        app = self.app
        if app.sm.current != "sync":  # its words belong to this screen; the top bar still says
            app.redraw()
            return
        self.refresh()
        if report.offline:
            self.say(self.t("offline"), error=True)
        elif report.error is not None:
            self.say(report.error.vi if app.lang == "vi" else report.error.en, error=True)
        else:
            accepted = sum(report.verdicts.values())
            self.say(self.t("sync_done", sent=number(accepted, app.lang),
                            pulled=number(report.pulled, app.lang))
                     if accepted or report.pulled else self.t("sync_nothing_new"))

    def export(self) -> None:
        path = self.app.core.export_batch(self.app.core.data_dir / "export")
        self.refresh()
        self.say(self.t("exported", path=str(path)) if path else self.t("nothing_to_export"))

    def fix(self, seq: int) -> None:
        """Open a refused change's record (or a kept one the server asks to check) with
        the server's reasons beside its fields."""
        core = self.app.core
        target = core.fix_target(seq)
        if target is None:
            return
        if target["type"] == "report":  # a refused P0 slip: the monthly close
            self.app.go("p0", month=target["values"].get("month"))
            return
        form = FormView(target["form"]).form
        kind, fields = form.kind, {f.name for f in form.fields}
        # where the record sits, in the fields its form has (a household has no
        # household_id: passing one refused every fix of a refused household)
        context = {k: target[k] for k in ("household_id", "member_id")
                   if target.get(k) and k in fields}
        entity_id = target["id"] if kind == "entity" and core.register.get(target["id"]) \
            else None
        self.app.go("form", form=target["form"], id=entity_id, context=context,
                    values=target["values"], errors=target["errors"], back=("sync", {}),
                    fixes=seq)
