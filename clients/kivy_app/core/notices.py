"""Plain words for what sync brings back: conflicts, reviewers' choices, merged
duplicates, refused operations and kept ones with something to check — in
Vietnamese first, English second.

Labels and code names come from the forms in ``schemas/``; the app never writes a
field's name by hand.
"""

from __future__ import annotations

from typing import Any

from a0core.errors import refusal_words
from a0core.p0 import vietnamese_month
from a0core.schemas import FieldDef, registry
from clients.kivy_app.core.formview import code_label
from clients.kivy_app.core.register import Register

TAP_VI, TAP_EN = "Chạm để mở và sửa.", "Tap to open and fix it."  # a refusal, until fixed


def field_def(entity: str, name: str) -> FieldDef | None:
    return registry().field_def(entity, name)


def _label(entity: str, name: str) -> tuple[str, str]:
    f = field_def(entity, name)
    return (f.label["vi"], f.label["en"]) if f else (name, name)


def subject(op: dict[str, Any]) -> str:
    """Whom a change is about, as a person knows it: the person or household a hand-out
    or an event concerns, else its own record."""
    if op.get("type") == "upsert":  # a household or a person: itself
        return str(op["id"])
    fields = op.get("fields") or {}
    return str(fields.get("member_id") or fields.get("household_id") or op["id"])


def describe(reg: Register, entity_id: str, kind: str | None = None) -> tuple[str, str]:
    """"hộ số 12" / "Nguyễn Văn An (hộ số 12)"; a record not on the phone (a stock
    movement, a record merged away) by its form's title, never by its id."""
    entity = reg.entities.get(entity_id) or reg.get(entity_id)
    if entity is None:
        form = registry().form(kind) if kind else None
        if form is not None:
            return form.title.get("vi", ""), form.title.get("en", "")
        return "bản ghi", "record"
    if entity.kind == "household":
        n = entity.data.get("number", "?")
        return f"hộ số {n}", f"household no. {n}"
    name = entity.data.get("full_name") or "?"
    household = reg.get(reg.household_of(entity))
    if household is not None:
        n = household.data.get("number", "?")
        return f"{name} (hộ số {n})", f"{name} (household no. {n})"
    return name, name


def conflict(reg: Register, data: dict[str, Any], my_device: str) -> dict[str, Any]:
    entity, field = data.get("entity", ""), data.get("field", "")
    what_vi, what_en = describe(reg, data.get("entity_id", ""), entity)
    label_vi, label_en = _label(entity, field)
    f = field_def(entity, field)
    a, b = data.get("a") or {}, data.get("b") or {}
    mine = a if a.get("device") == my_device else b if b.get("device") == my_device else None
    other = b if mine is a else a
    winner = max((a, b), key=lambda s: (s.get("hlc") or 0, s.get("device") or ""))
    va, vb = code_label(f, a.get("value")), code_label(f, b.get("value"))
    vw = code_label(f, winner.get("value"))
    if data.get("status") == "resolved":
        chosen_vi = code_label(f, data.get("resolved_value"))
        chosen_en = code_label(f, data.get("resolved_value"), "en")
        vi = f"Cán bộ xã đã chọn «{chosen_vi}» cho {label_vi} của {what_vi}."
        en = f"Commune staff chose «{chosen_en}» for {label_en} of {what_en}."
        kind = "resolved"
    elif data.get("status") == "superseded":
        vi = f"Xung đột về {label_vi} của {what_vi} đã được thay bằng một lần sửa sau."
        en = f"The conflict on {label_en} of {what_en} was overtaken by a later edit."
        kind = "resolved"
    else:
        if mine is not None:
            vm, vo = code_label(f, mine.get("value")), code_label(f, other.get("value"))
            vi = (f"Máy này và một máy khác cùng sửa {label_vi} của {what_vi} khi chưa đồng bộ: "
                  f"máy này ghi «{vm}», máy kia ghi «{vo}». Tạm giữ «{vw}»; "
                  f"cán bộ xã sẽ chọn giá trị đúng.")
        else:
            vi = (f"Hai người cùng sửa {label_vi} của {what_vi} khi chưa đồng bộ: «{va}» và "
                  f"«{vb}». Tạm giữ «{vw}»; cán bộ xã sẽ chọn giá trị đúng.")
        ea, eb = code_label(f, a.get("value"), "en"), code_label(f, b.get("value"), "en")
        en = (f"{label_en} of {what_en} was changed on two devices before they synced: "
              f"«{ea}» and «{eb}». «{code_label(f, winner.get('value'), 'en')}» is kept "
              f"until commune staff decide.")
        kind = "conflict"
    return {"kind": kind, "vi": vi, "en": en, "entity_id": data.get("entity_id"),
            "field": field}


def merged(reg: Register, old_id: str, survivor_id: str, entity: str) -> dict[str, Any]:
    old_vi, old_en = describe(reg, old_id, entity)
    new_vi, new_en = describe(reg, survivor_id, entity)
    if entity == "household":
        vi = (f"Xã đã gộp hai hộ trùng nhau: {old_vi} nay là {new_vi}. "
              f"Mọi thay đổi sẽ ghi vào {new_vi}.")
        en = (f"Commune staff merged two duplicate households: {old_en} is now {new_en}. "
              f"Changes go to {new_en}.")
    else:
        vi = (f"Xã đã gộp hai người trùng nhau: {old_vi} và {new_vi} là một người; "
              f"giữ lại {new_vi}.")
        en = (f"Commune staff merged two duplicate people: {old_en} and {new_en} are one "
              f"person; {new_en} is kept.")
    return {"kind": "merge", "vi": vi, "en": en, "entity_id": survivor_id, "old_id": old_id}


def warned(reg: Register, op: dict[str, Any], warnings: list[dict[str, str]]) -> dict[str, Any]:
    """A change the server kept, with what to check (an identification number that
    says another sex or year, …)."""
    what_vi, what_en = describe(reg, subject(op), op.get("form"))
    reason_vi = "; ".join(w["message_vi"] for w in warnings)
    reason_en = "; ".join(w["message_en"] for w in warnings)
    return {"kind": "warning", "seq": op["seq"],
            "vi": f"Máy chủ đã nhận thay đổi số {op['seq']} ({what_vi}), nhưng cần kiểm tra: "
                  f"{reason_vi} Chạm để mở và sửa nếu cần.",
            "en": f"The server kept change no. {op['seq']} ({what_en}), but please check: "
                  f"{reason_en} Tap to open it and fix it if needed.",
            "entity_id": op["id"]}


def worded(verdict: dict[str, Any]) -> dict[str, Any]:
    """A verdict whose refusal and field errors have words to show: where the server sent
    a code without its message, a general sentence saying what to do, never the code
    alone (:func:`a0core.errors.refusal_words`)."""
    out = dict(verdict)
    code = out.get("code")
    if isinstance(code, str) and not (out.get("message_vi") and out.get("message_en")):
        out["message_vi"], out["message_en"] = refusal_words(
            code, out.get("message_vi"), out.get("message_en"))
    if isinstance(out.get("errors"), list):
        out["errors"] = [worded(e) for e in out["errors"] if isinstance(e, dict)]
    return out


def rejected(reg: Register, op: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
    if op["type"] == "report":
        month = vietnamese_month(str(op["fields"].get("month", "")))
        what_vi, what_en = f"phiếu P0 tháng {month}", f"P0 slip of {month}"
    else:
        what_vi, what_en = describe(reg, subject(op), op.get("form"))
    verdict = worded(verdict)
    reason_vi, reason_en = verdict.get("message_vi", ""), verdict.get("message_en", "")
    details = verdict.get("errors") or []
    if details:
        reason_vi += ": " + "; ".join(e.get("message_vi", "") for e in details)
        reason_en += ": " + "; ".join(e.get("message_en", "") for e in details)
    return {"kind": "rejected", "seq": op["seq"],
            "vi": f"Máy chủ từ chối thay đổi số {op['seq']} ({what_vi}): {reason_vi}. {TAP_VI}",
            "en": f"The server refused change no. {op['seq']} ({what_en}): {reason_en}. "
                  f"{TAP_EN}",
            "entity_id": op["id"]}


def clock_refused(reg: Register, op: dict[str, Any]) -> dict[str, Any]:
    what_vi, what_en = describe(reg, subject(op), op.get("form"))
    return {"kind": "clock", "seq": op["seq"],
            "vi": f"Thay đổi số {op['seq']} ({what_vi}) chưa được nhận vì giờ trên điện thoại "
                  f"chạy trước giờ thật. Dữ liệu vẫn được giữ và sẽ tự gửi lại khi giờ đúng.",
            "en": f"Change no. {op['seq']} ({what_en}) was not taken because the phone's "
                  f"clock is ahead of the real time. It is kept and sent again by itself once "
                  f"the clock is right.",
            "entity_id": op["id"]}
