"""Outbox states and how receipts move operations between them (DESIGN §3.1, §3.5).

``pending``  written here, never sealed;
``queued``   sealed in a batch that has not reached the server as far as the phone
             knows (no connection, the server answered "busy", or it went into a
             file to carry) — re-sent under the same batch id;
``sent``     the request went out whole but the line broke before an answer: the
             server may have it. Re-sent under the same batch id, so the server
             answers with the receipt it kept;
``waiting``  stored by the server, its household or member has not arrived yet;
``applied`` / ``duplicate`` / ``conflict`` / ``rejected``: settled;
``restamped`` refused because the phone's clock ran ahead, and sent again as a new
           operation once the clock was sane (:mod:`.clock`): settled too.

"Sent" is said only once the request demonstrably left the phone whole; until a
receipt comes nothing is called received. The words for every state are in
``schemas/protocol/op_states.json`` (:mod:`a0core.op_states`), shared with the
dashboard. A rejected operation is settled too (the server stops expecting it);
the app shows it with the server's reason and opens its record to fix.
"""

from __future__ import annotations

from typing import Any

from a0core.op_states import op_states
from clients.kivy_app.core.stock import number

PENDING, QUEUED, SENT, WAITING = "pending", "queued", "sent", "waiting"
APPLIED, DUPLICATE, CONFLICT, REJECTED = "applied", "duplicate", "conflict", "rejected"
RESTAMPED = "restamped"
UNSETTLED = (PENDING, QUEUED, SENT, WAITING)
IN_BATCH = (QUEUED, SENT)  # sealed under a batch id, no receipt yet
# settled, yet sent again when the server says it lost them (a restore): not a
# re-stamped operation, whose new copy went instead
RESENDABLE = (WAITING, APPLIED, DUPLICATE, CONFLICT, REJECTED)
VERDICTS = frozenset({APPLIED, DUPLICATE, CONFLICT, REJECTED, WAITING})

# state → (Vietnamese, English), from the shared vocabulary
STATE_WORDS = {code: (s.vi, s.en) for code, s in op_states().items()}


def counted(state: str, n: int, lang: str = "vi") -> str:
    """How many changes stand in ``state``, as a person reads it: «Được chấp nhận: 1.532»."""
    return f"{op_states()[state].word(lang)}: {number(n, lang)}"


def next_state(current: str, verdict: dict[str, Any]) -> str:
    """The state after a verdict. A verdict never moves a settled operation back."""
    new = verdict.get("verdict")
    if new not in VERDICTS:
        return current
    if current not in UNSETTLED:
        return current
    return str(new)
