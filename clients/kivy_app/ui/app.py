"""The collaborator's app on Kivy 2.3: screens over :class:`~clients.kivy_app.core.app.AppCore`.

Vietnamese by default (one tap switches to English); one-thumb use on a cheap
phone: the main action of every screen is a big button at the bottom, lists are
RecycleViews (only visible rows exist, so 500+ households scroll smoothly).
Widgets that tests and screen readers address are named in ``self.w``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.recycleview import RecycleView
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput

from a0core.enrol_uri import EnrolUri
from a0core.errors import A0Error
from clients.kivy_app.core.app import AppCore
from clients.kivy_app.core.formview import FormView, code_label, event_forms
from clients.kivy_app.core.notices import field_def
from clients.kivy_app.core.outbox import STATE_WORDS
from clients.kivy_app.core.qrscan import decoder_available
from clients.kivy_app.ui.scan import (
    CameraFrames,
    FrameSource,
    Scanner,
    camera_available,
    with_camera_permission,
)
from clients.kivy_app.ui.texts import tr
from clients.kivy_app.ui.widgets import ERROR_COLOR, ROW, FieldInput, wrapped

KV = """
<HouseholdRowView>:
    orientation: "vertical"
    padding: dp(12), dp(6)
    canvas.before:
        Color:
            rgba: (0.16, 0.2, 0.26, 1)
        Rectangle:
            pos: self.x, self.y + 1
            size: self.width, self.height - 1
    Label:
        text: root.title
        font_size: sp(18)
        bold: True
        halign: "left"
        text_size: self.width, None
    Label:
        text: root.subtitle
        font_size: sp(14)
        color: (0.8, 0.85, 0.9, 1)
        halign: "left"
        text_size: self.width, None

<HouseholdList>:
    viewclass: "HouseholdRowView"
    RecycleBoxLayout:
        default_size: None, dp(64)
        default_size_hint: 1, None
        size_hint_y: None
        height: self.minimum_height
        orientation: "vertical"
"""


class HouseholdRowView(BoxLayout):
    """One household in the list (a RecycleView view: reused as the list scrolls)."""

    title = StringProperty("")
    subtitle = StringProperty("")
    hid = StringProperty("")

    def on_touch_up(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos) and touch.grab_current is None \
                and abs(touch.oy - touch.y) < dp(12):
            App.get_running_app().open_household(self.hid)
            return True
        return super().on_touch_up(touch)


class HouseholdList(RecycleView):
    pass


def big_button(text: str, on_press: Any, **kw: Any) -> Button:
    button = Button(text=text, size_hint_y=None, height=ROW, font_size=sp(18), **kw)
    button.bind(on_release=lambda *_: on_press())
    return button


def bar(*widgets: Any) -> BoxLayout:
    box = BoxLayout(size_hint_y=None, height=ROW, spacing=dp(6))
    for w in widgets:
        box.add_widget(w)
    return box


def scroller(content: GridLayout) -> ScrollView:
    content.size_hint_y = None
    content.bind(minimum_height=content.setter("height"))
    view = ScrollView(do_scroll_x=False)
    view.add_widget(content)
    return view


def column(**kw: Any) -> GridLayout:
    return GridLayout(cols=1, spacing=dp(6), padding=dp(10), **kw)


class A0App(App):
    """The app. ``core`` does the work; screens are rebuilt from its state when shown."""

    title = "a0sync"

    def __init__(self, data_dir: Path | None, server: str = "", lang: str = "vi",
                 pin_from_stdin: str | None = None, report_ready: bool = False,
                 frame_source: Callable[[], FrameSource] | None = None, **kw: Any) -> None:
        """``frame_source`` makes the scan screen's frames (default: the camera, where
        one exists); tests hand real pictures through it."""
        super().__init__(**kw)
        self.core = AppCore(data_dir or Path(self.user_data_dir))
        self.server = server
        self.lang = lang
        self.pin_from_stdin = pin_from_stdin
        self.report_ready = report_ready
        self.frame_source = frame_source
        self.scanner: Scanner | None = None
        self.w: dict[str, Any] = {}
        self.household_id: str | None = None
        self.member_id: str | None = None
        self.form_state: dict[str, Any] = {}
        self.busy = False
        self.last_message = ""

    def t(self, key: str, **params: Any) -> str:
        return tr(key, self.lang, **params)

    # ------------------------------------------------------------- start

    def build(self) -> ScreenManager:
        Builder.load_string(KV)
        self.sm = ScreenManager(transition=NoTransition())
        for name in ("enrol", "scan", "unlock", "households", "household", "member", "form",
                     "sync"):
            self.sm.add_widget(Screen(name=name))
        if not self.core.enrolled:
            self.show_enrol()
        elif self.pin_from_stdin:
            self.unlock(self.pin_from_stdin)
        else:
            self.show_unlock()
        return self.sm

    def _screen(self, name: str, *children: Any) -> Screen:
        screen = self.sm.get_screen(name)
        screen.clear_widgets()
        root = BoxLayout(orientation="vertical", padding=dp(8), spacing=dp(6))
        for child in children:
            root.add_widget(child)
        screen.add_widget(root)
        self.sm.current = name
        return screen

    def _title(self, text: str, back: Any = None) -> BoxLayout:
        widgets: list[Any] = []
        if back is not None:
            self.w["back"] = big_button(self.t("back"), back, size_hint_x=0.35)
            widgets.append(self.w["back"])
        widgets.append(Label(text=text, font_size=sp(20), bold=True, shorten=True,
                             shorten_from="right"))
        lang = big_button(self.t("lang"), self.toggle_lang, size_hint_x=0.18)
        self.w["lang"] = lang
        widgets.append(lang)
        return bar(*widgets)

    def toggle_lang(self) -> None:
        self.lang = "en" if self.lang == "vi" else "vi"
        {"households": self.show_households, "household": self.show_household,
         "member": self.show_member, "sync": self.show_sync, "enrol": self.show_enrol,
         "scan": self.show_scan, "unlock": self.show_unlock}.get(self.sm.current,
                                                                 lambda: None)()

    def _message(self, text: str, error: bool = False) -> None:
        self.last_message = text
        label = self.w.get("message")
        if label is not None:
            label.text = text
            label.color = ERROR_COLOR if error else (1, 1, 1, 1)

    # ----------------------------------------------------- enrol / unlock

    def show_enrol(self) -> None:
        # what was typed or scanned survives a change of language
        kept = {k: self.w[k].text for k in ("enrol.server", "enrol.code") if k in self.w}
        server = TextInput(text=kept.get("enrol.server", self.server), multiline=False,
                           size_hint_y=None, height=ROW, font_size=sp(16), write_tab=False)
        code = TextInput(text=kept.get("enrol.code", ""), multiline=False, size_hint_y=None,
                         height=ROW, font_size=sp(20), hint_text="ABCD-EFGH-JK", write_tab=False)
        pin = TextInput(multiline=False, password=True, input_filter="int", size_hint_y=None,
                        height=ROW, font_size=sp(20), input_type="number", write_tab=False)
        pin2 = TextInput(multiline=False, password=True, input_filter="int", size_hint_y=None,
                         height=ROW, font_size=sp(20), input_type="number", write_tab=False)
        self.w.update({"enrol.server": server, "enrol.code": code, "enrol.pin": pin,
                       "enrol.pin2": pin2})
        body = column()
        for key, widget in (("server", server), ("code", code), ("pin", pin),
                            ("pin_again", pin2)):
            body.add_widget(wrapped(self.t(key)))
            body.add_widget(widget)
            if key == "code" and self.scan_offered():
                self.w["enrol.scan"] = big_button(self.t("scan"), self.scan_qr)
                body.add_widget(self.w["enrol.scan"])
        message = wrapped("")
        self.w["message"] = self.w["enrol.message"] = message
        body.add_widget(message)
        submit = big_button(self.t("enrol"), self.enrol)
        self.w["enrol.submit"] = submit
        self._screen("enrol", self._title(self.t("enrol_title")), scroller(body), submit)

    def enrol(self) -> None:
        if self.busy:
            return
        server = self.w["enrol.server"].text.strip()
        code, pin, pin2 = (self.w[k].text for k in ("enrol.code", "enrol.pin", "enrol.pin2"))
        self._message(self.t("working"))

        def work() -> None:
            try:
                self.core.enrol(server, code, pin, pin2)
            except A0Error as error:
                failed = error
                Clock.schedule_once(lambda *_: self._done_enrol(failed))
                return
            report = self.core.sync()
            Clock.schedule_once(lambda *_: self._done_enrol(None, report))

        self._run(work)

    def _done_enrol(self, error: A0Error | None, report: Any = None) -> None:
        self.busy = False
        if error is not None:
            self._message(error.vi if self.lang == "vi" else error.en, error=True)
            return
        self.show_households()

    def show_unlock(self) -> None:
        pin = TextInput(multiline=False, password=True, input_filter="int", size_hint_y=None,
                        height=ROW, font_size=sp(24), input_type="number", write_tab=False)
        pin.bind(on_text_validate=lambda *_: self.unlock(pin.text))
        self.w["unlock.pin"] = pin
        message = wrapped("")
        self.w["message"] = message
        body = column()
        body.add_widget(wrapped(self.t("pin")))
        body.add_widget(pin)
        body.add_widget(message)
        submit = big_button(self.t("unlock"), lambda: self.unlock(pin.text))
        self.w["unlock.submit"] = submit
        self._screen("unlock", self._title(self.t("unlock_title")), scroller(body), submit)
        pin.focus = True

    def unlock(self, pin: str) -> None:
        try:
            self.core.unlock(pin)
        except A0Error as error:
            if self.sm.current != "unlock":
                self.show_unlock()
            self._message(error.vi if self.lang == "vi" else error.en, error=True)
            return
        self.show_households()

    def lock(self) -> None:
        self.core.lock()
        self.show_unlock()

    # ------------------------------------------------------------- scan

    def scan_offered(self) -> bool:
        """Scanning needs a QR decoder and a camera (or a test's frames); typing always works."""
        if self.frame_source is not None:
            return decoder_available()
        return camera_available()

    def scan_qr(self) -> None:
        with_camera_permission(lambda granted: self.show_scan() if granted else
                               self._message(self.t("camera_denied"), error=True))

    def show_scan(self) -> None:
        """The viewfinder; a valid enrolment QR code fills the enrol form, which the
        collaborator still confirms. Anything else says why it was not taken."""
        self._stop_scan()
        try:
            source = (self.frame_source or CameraFrames)()
        except Exception:  # a camera that will not open: typing the code still works
            self._back_to_enrol()
            self._message(self.t("camera_failed"), error=True)
            return
        if source.widget.parent is not None:  # the same source shown again (language)
            source.widget.parent.remove_widget(source.widget)
        message = wrapped("", color=ERROR_COLOR)
        self.w.update({"scan.preview": source.widget, "scan.message": message,
                       "message": message})
        cancel = big_button(self.t("type_instead"), self.cancel_scan)
        self.w["scan.cancel"] = cancel
        self._screen("scan", self._title(self.t("scan_title")), source.widget,
                     wrapped(self.t("scan_hint")), message, cancel)
        self.scanner = Scanner(source, self._scanned, self._scan_refused)
        self.scanner.start()

    def _scanned(self, link: EnrolUri) -> None:
        self.scanner = None
        self._back_to_enrol()
        self.w["enrol.server"].text = link.server
        self.w["enrol.code"].text = link.shown_code
        self._message(self.t("scanned"))

    def _scan_refused(self, error: A0Error) -> None:
        self._message(error.vi if self.lang == "vi" else error.en, error=True)

    def cancel_scan(self) -> None:
        self._stop_scan()
        self._back_to_enrol()

    def _stop_scan(self) -> None:
        if self.scanner is not None:
            self.scanner.stop()
            self.scanner = None

    def _back_to_enrol(self) -> None:
        self.sm.current = "enrol"
        self.w["message"] = self.w["enrol.message"]

    def on_pause(self) -> bool:
        """Android: let go of the camera while the app is in the background."""
        if self.scanner is not None:
            self.cancel_scan()
        return True

    def on_stop(self) -> None:
        self._stop_scan()

    # ------------------------------------------------------- households

    def show_households(self) -> None:
        core = self.core
        search = TextInput(multiline=False, size_hint_y=None, height=ROW, font_size=sp(18),
                           hint_text=self.t("search"), write_tab=False)
        rv = HouseholdList()
        count = Label(size_hint_y=None, height=dp(24), font_size=sp(14))
        self.w.update({"list.search": search, "list.rv": rv, "list.count": count})

        def refresh(*_: Any) -> None:
            rows = core.register.search(search.text)
            rv.data = [{"title": f"{self.t('household_no', n=r.number)} · {r.head}",
                        "subtitle": f"{r.address} · {r.members} người" if self.lang == "vi"
                        else f"{r.address} · {r.members} people", "hid": r.id} for r in rows]
            count.text = self.t("households_count", n=len(rows))

        search.bind(text=refresh)
        refresh()
        area = core.area.get("name", "")
        add = big_button(self.t("new_household"), self.new_household)
        sync = big_button(self._sync_label(), self.show_sync)
        self.w.update({"list.add": add, "list.sync": sync})
        self._screen("households", self._title(area), search, count, rv, bar(add, sync))
        if self.report_ready:
            self.report_ready = False
            Clock.schedule_once(lambda *_: print(f"A0APP-READY households={len(rv.data)}",
                                                  flush=True), 0)

    def _sync_label(self) -> str:
        counts = self.core.outbox_counts()
        waiting = counts.get("pending", 0) + counts.get("sent", 0)
        return self.t("sync") + (f" ({waiting})" if waiting else "")

    def new_household(self) -> None:
        self.open_form("household", None, {}, after=self._after_household)

    def _after_household(self, saved_id: str) -> None:
        self.household_id = saved_id
        self.show_household()

    def open_household(self, hid: str) -> None:
        self.household_id = hid
        self.show_household()

    def show_household(self) -> None:
        reg = self.core.register
        household = reg.get(self.household_id or "")
        if household is None:
            self.show_households()
            return
        d = household.data
        body = column()
        body.add_widget(wrapped(f"{d.get('address', '')}", font_size=sp(16)))
        body.add_widget(wrapped(self.t("members"), bold=True, font_size=sp(18)))
        for m in reg.members_of(household.id):
            rel = code_label(field_def("member", "relation"), m.data.get("relation"), self.lang)
            born = m.data.get("birth_date", "")
            button = big_button(f"{m.data.get('full_name', '')} · {rel} · {born}",
                                lambda mid=m.id: self.open_member(mid))
            button.halign = "left"
            self.w[f"member:{m.data.get('full_name', '')}"] = button
            body.add_widget(button)
        edit = big_button(self.t("edit_household"), lambda: self.open_form(
            "household", household.id, {}, after=lambda _id: self.show_household()))
        add = big_button(self.t("add_member"), lambda: self.open_form(
            "member", None, {"household_id": household.id},
            after=lambda _id: self.show_household()))
        dist = big_button(self.t("distribution"), lambda: self.open_form(
            "distribution", None, {"household_id": household.id},
            after=lambda _id: self.show_household()))
        self.w.update({"household.edit": edit, "household.add_member": add,
                       "household.distribution": dist})
        body.add_widget(dist)
        self._screen("household",
                     self._title(self.t("household_no", n=d.get("number", "")),
                                 self.show_households),
                     scroller(body), bar(edit, add))

    # ---------------------------------------------------------- members

    def open_member(self, mid: str) -> None:
        self.member_id = mid
        self.show_member()

    def show_member(self) -> None:
        reg = self.core.register
        member = reg.get(self.member_id or "")
        if member is None:
            self.show_household()
            return
        state = reg.state_of(member)
        body = column()
        for name in ("relation", "sex", "birth_date", "ethnicity", "marital_status",
                     "residence_status", "bhyt_number"):
            value = state.get(name) if state.get(name) is not None else member.data.get(name)
            if value is None:
                continue
            f = field_def("member", name)
            label = f.label[self.lang] if f else name
            body.add_widget(wrapped(f"{label}: {code_label(f, value, self.lang)}"))
        if state.get("current_method"):
            f = field_def("member", "current_method")
            label = f.label[self.lang] if f else "current_method"
            method = code_label(f, state["current_method"], self.lang)
            body.add_widget(wrapped(f"{label}: {method}"))
        body.add_widget(wrapped(self.t("record_event"), bold=True, font_size=sp(18)))
        context = {"household_id": member.data.get("household_id"), "member_id": member.id}
        for form in event_forms():
            button = big_button(form.title[self.lang], lambda fid=form.id: self.open_form(
                fid, None, context, after=lambda _id: self.show_member()))
            self.w[f"event:{form.id}"] = button
            body.add_widget(button)
        edit = big_button(self.t("edit_member"), lambda: self.open_form(
            "member", member.id, {}, after=lambda _id: self.show_member()))
        woman = big_button(self.t("woman_status"), lambda: self.open_form(
            "woman_status", member.id, {}, after=lambda _id: self.show_member()))
        self.w.update({"member.edit": edit, "member.woman": woman})
        self._screen("member", self._title(member.data.get("full_name", ""), self.show_household),
                     scroller(body), bar(edit, woman))

    # ------------------------------------------------------------- forms

    def open_form(self, form_id: str, entity_id: str | None, context: dict[str, Any],
                  after: Any, values: dict[str, Any] | None = None,
                  errors: dict[str, list[tuple[str, str]]] | None = None) -> None:
        """Draw any form of ``schemas/`` (entity, event or distribution) and save it."""
        fv = FormView(form_id)
        reg = self.core.register
        existing = reg.get(entity_id) if entity_id else None
        current = dict(existing.data) if existing else {}
        current.update(values or {})
        household = context.get("household_id") or (existing.household_id if existing else None)
        members = [(m.id, m.data.get("full_name", "")) for m in reg.members_of(household or "")]
        inputs: dict[str, FieldInput] = {}
        body = column()
        top = wrapped("", color=ERROR_COLOR)
        body.add_widget(top)
        for view in fv.inputs():
            field = FieldInput(view, self.lang, members, current.get(view.name))
            inputs[view.name] = field
            self.w[f"form.{view.name}"] = field
            body.add_widget(field)

        def record() -> dict[str, Any]:
            return {name: fv.parse(f.view, f.value()) for name, f in inputs.items()}

        def relevance(*_: Any) -> None:
            shown = {v.name for v in fv.visible(record())}
            for name, f in inputs.items():
                visible = name in shown
                f.disabled = not visible
                f.opacity = 1 if visible else 0
                f.size_hint_y = None
                if not visible:
                    f.height = 0
                else:
                    f.height = f.minimum_height

        for f in inputs.values():
            prop = "text" if hasattr(f.input, "text") else "active"
            f.input.bind(**{prop: relevance})
        relevance()

        def show(errs: dict[str, list[tuple[str, str]]]) -> None:
            for name, f in inputs.items():
                f.show_errors(errs.get(name, []))
            other = [m for name, msgs in errs.items() if name not in inputs for m in msgs]
            top.text = "\n".join([self.t("fix_errors")] * bool(errs) + [
                vi if self.lang == "vi" else en for vi, en in other])

        if errors:
            show(errors)

        def save() -> None:
            values_now = {k: v for k, v in record().items() if k in {x.name for x in
                                                                     fv.visible(record())}}
            if entity_id is not None and existing is not None:
                values_now.update({k: None for k in inputs if k not in values_now
                                   and k in existing.data})
            if fv.form.kind == "entity":
                result = self.core.save_entity(form_id, values_now, entity_id, context)
            else:
                result = self.core.record_fact(form_id, values_now, context)
            if not result.ok:
                show(result.errors)
                return
            after(result.id)

        save_button = big_button(self.t("save"), save)
        self.w["form.save"] = save_button
        back = self.sm.current
        cancel = big_button(self.t("cancel"), lambda: setattr(self.sm, "current", back))
        self.form_state = {"form": form_id, "inputs": inputs}
        self._screen("form", self._title(fv.title(self.lang)), scroller(body),
                     bar(cancel, save_button))

    # -------------------------------------------------------------- sync

    def show_sync(self) -> None:
        counts = self.core.outbox_counts()
        summary = wrapped(self.t("state_counts", **{k: counts.get(k, 0) for k in (
            "pending", "sent", "waiting", "rejected", "applied")}) + (
            f" · {counts.get('conflict', 0)} ⚠" if counts.get("conflict") else ""))
        message = wrapped(self.last_message)
        self.w.update({"sync.summary": summary, "message": message})
        body = column()
        body.add_widget(summary)
        body.add_widget(message)
        body.add_widget(wrapped(self.t("notices"), bold=True, font_size=sp(18)))
        for note in self.core.notices()[:50]:
            text = note["vi"] if self.lang == "vi" else note["en"]
            if note["kind"] == "rejected":
                b = big_button(text, lambda seq=note["seq"]: self.fix(seq), height=dp(96))
                b.text_size = (None, None)
                b.bind(width=lambda w, v: setattr(w, "text_size", (v - dp(16), None)))
                self.w[f"notice.rejected:{note['seq']}"] = b
                body.add_widget(b)
            else:
                body.add_widget(wrapped("• " + text))
        body.add_widget(wrapped(self.t("changes"), bold=True, font_size=sp(18)))
        for row in self.core.outbox_rows(limit=100):
            op, verdict = row["op"], row["verdict"] or {}
            word = STATE_WORDS[row["state"]][0 if self.lang == "vi" else 1]
            reason = verdict.get("message_vi" if self.lang == "vi" else "message_en", "")
            form = FormView(op["form"]).title(self.lang) if op.get("form") else op["type"]
            body.add_widget(wrapped(f"#{row['seq']} {form}: {word}"
                                    + (f" — {reason}" if reason else ""), font_size=sp(14)))
        now = big_button(self.t("sync_now"), self.sync_now)
        export = big_button(self.t("export"), self.export)
        self.w.update({"sync.now": now, "sync.export": export})
        self._screen("sync", self._title(self.t("sync_title"), self.show_households),
                     scroller(body), bar(export, now))

    def sync_now(self) -> None:
        if self.busy:
            return
        self._message(self.t("working"))
        self._run(lambda: (lambda r: Clock.schedule_once(lambda *_: self._synced(r)))(
            self.core.sync()))

    def _synced(self, report: Any) -> None:
        self.busy = False
        if report.offline:
            text = self.t("offline")
        elif report.error is not None:
            text = report.error.vi if self.lang == "vi" else report.error.en
        else:
            text = self.t("sync_done", sent=report.sent_ops, pulled=report.pulled)
        self.last_message = text
        self.show_sync()

    def export(self) -> None:
        path = self.core.export_batch(self.core.data_dir / "export")
        self.last_message = (self.t("exported", path=str(path)) if path
                             else self.t("nothing_to_export"))
        self.show_sync()

    def fix(self, seq: int) -> None:
        """Open a refused operation's record with the server's reasons beside its fields."""
        target = self.core.fix_target(seq)
        if target is None:
            return
        kind = FormView(target["form"]).form.kind
        context = {"household_id": target["household_id"]}
        if target.get("member_id"):
            context["member_id"] = target["member_id"]
        entity_id = target["id"] if kind == "entity" and self.core.register.get(target["id"]) \
            else None
        self.open_form(target["form"], entity_id, context, after=lambda _id: self.show_sync(),
                       values=target["values"], errors=target["errors"])

    def _run(self, work: Any) -> None:
        self.busy = True
        threading.Thread(target=work, daemon=True).start()
