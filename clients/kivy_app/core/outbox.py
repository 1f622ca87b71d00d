"""Outbox states and how receipts move operations between them (DESIGN §3.1, §3.5).

``pending``  written here, never sealed;
``sent``     sealed in a batch (sent over the network or exported to a file), no
             verdict yet — re-sent under the same batch id, so the server answers
             with the receipt it kept;
``waiting``  stored by the server, its household or member has not arrived yet;
``applied`` / ``duplicate`` / ``conflict`` / ``rejected``: settled.

A rejected operation is settled too (the server stops expecting it); the app
shows it with the server's reason and opens its record to fix.
"""

from __future__ import annotations

from typing import Any

PENDING, SENT, WAITING = "pending", "sent", "waiting"
APPLIED, DUPLICATE, CONFLICT, REJECTED = "applied", "duplicate", "conflict", "rejected"
UNSETTLED = (PENDING, SENT, WAITING)
UNSENT = (PENDING, SENT)
VERDICTS = frozenset({APPLIED, DUPLICATE, CONFLICT, REJECTED, WAITING})

STATE_WORDS = {
    PENDING: ("Chưa gửi", "Not sent yet"),
    SENT: ("Đã gửi, chờ xác nhận", "Sent, awaiting receipt"),
    WAITING: ("Máy chủ đang chờ bản ghi liên quan", "Server waits for a related record"),
    APPLIED: ("Đã nhận", "Applied"),
    DUPLICATE: ("Đã có (gửi trùng)", "Already there (duplicate)"),
    CONFLICT: ("Đã nhận, có xung đột chờ xã xem xét", "Applied, conflict sent for review"),
    REJECTED: ("Bị từ chối — cần sửa", "Rejected — needs fixing"),
}


def next_state(current: str, verdict: dict[str, Any]) -> str:
    """The state after a verdict. A verdict never moves a settled operation back."""
    new = verdict.get("verdict")
    if new not in VERDICTS:
        return current
    if current not in UNSETTLED:
        return current
    return str(new)
