"""The collaborator's monthly close: one month's P0 slip as this phone sees it.

A month is *open* until its slip is closed here; *waiting* once closed here and
not yet held by the server; *closed* when the server holds this very slip and its
counts match what the server holds; *incomplete* when they do not (entries still
on another phone, or waiting on the server); *changed* when an entry of the month
was recorded or voided here after closing — the month must be closed again. The
server's word comes with every pull (:func:`server.reporting.status.device_months`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from a0core import p0

OPEN, WAITING, CLOSED, INCOMPLETE, CHANGED = "open", "waiting", "closed", "incomplete", "changed"

WORDS = {
    OPEN: ("Chưa nộp", "Not closed yet"),
    WAITING: ("Đã nộp trên máy, chờ gửi lên máy chủ",
              "Closed on this phone, not on the server yet"),
    CLOSED: ("Máy chủ đã nhận, số liệu khớp", "The server holds it; the counts match"),
    INCOMPLETE: ("Máy chủ đã nhận nhưng số liệu chưa khớp: {sections}",
                 "The server holds it but the counts differ: {sections}"),
    CHANGED: ("Có thay đổi sau khi nộp — cần nộp lại",
              "Changed since it was closed — close it again"),
}
LATE = (" (nộp muộn)", " (late)")


@dataclass
class MonthView:
    month: str
    counts: dict[str, int]  # the entries this phone holds now, per section
    slip: dict[str, Any] | None = None    # the last slip closed here
    server: dict[str, Any] | None = None  # what the last pull said about the month

    @property
    def nil(self) -> bool:
        return not any(self.counts.values())

    @property
    def state(self) -> str:
        if self.slip is None:
            if self.server is None:  # closed by another phone of the area, or not at all
                return OPEN
            return INCOMPLETE if self.server["incomplete"] else CLOSED
        if self.slip["counts"] != self.counts:
            return CHANGED
        if self.server is None or self.server.get("slip_id") != self.slip["id"]:
            return WAITING
        return INCOMPLETE if self.server["incomplete"] else CLOSED

    @property
    def may_close(self) -> bool:
        return self.state in (OPEN, CHANGED, INCOMPLETE)

    def words(self, lang: str = "vi") -> str:
        """The month's state as a person reads it, with the sections that differ."""
        i = 0 if lang == "vi" else 1
        state = self.state
        text = WORDS[state][i]
        if state == INCOMPLETE:
            labels = p0.section_labels(lang)
            text = text.format(sections=", ".join(labels.get(s, s) for s in
                                                  (self.server or {}).get("differing", [])))
        if state in (CLOSED, INCOMPLETE) and (self.server or {}).get("state") == "late":
            text += LATE[i]
        return text

    def title(self, lang: str = "vi") -> str:
        month = p0.vietnamese_month(self.month)
        if lang == "vi":
            return f"Nộp phiếu P0 tháng {month}" + (" (không có thay đổi)" if self.nil else "")
        return f"Close the P0 slip of {month}" + (" (nil report)" if self.nil else "")
