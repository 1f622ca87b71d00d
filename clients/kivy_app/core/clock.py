"""A phone whose clock ran ahead (docs/protocol.md, "Clocks"). No Kivy here.

The server refuses stamps more than its tolerance ahead of its own clock
(``hlc_future``) and says, in the refusal and on every answer, what time it is.
The app then knows whether its own clock is *sane* again (no more than half the
tolerance ahead). While it is not, nothing is lost: what the collaborator entered
stays on the phone and the app says how to set the clock. Once it is, the hybrid
clock is rewound to the highest stamp known to be good and every refused operation
is *re-stamped*: sent again, unchanged, as a new operation with a sane stamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from a0core.errors import A0Error
from a0core.hlc import pack, physical_ms

CLOCK_CODE = "hlc_future"
DEFAULT_MAX_AHEAD_MS = 24 * 3600 * 1000
OFF_LIMIT_MS = 3600 * 1000  # an hour: a date goes wrong only near midnight
VIETNAM = dt.timezone(dt.timedelta(hours=7), "Asia/Ho_Chi_Minh")


def shown(ms: int) -> str:
    """A time as a person in Vietnam reads it: 03/12/2026 14:05 (as on the dashboard)."""
    return dt.datetime.fromtimestamp(ms / 1000, VIETNAM).strftime("%d/%m/%Y %H:%M")


def sane(device_ms: int, server_ms: int, max_ahead_ms: int) -> bool:
    """Is the phone's clock close enough to the server's for its stamps to be taken?"""
    return device_ms - server_ms <= max_ahead_ms // 2


def wrong_clock(device_ms: int, server_ms: int) -> A0Error:
    """What the collaborator is told: both times, and how to set the phone's clock."""
    return A0Error("app_clock_wrong", phone=shown(device_ms), server=shown(server_ms))


def off(device_ms: int, server_ms: int) -> A0Error | None:
    """A clock more than :data:`OFF_LIMIT_MS` either way from the server's: the sync
    goes on (a clock behind is harmless to stamps), but the dates the phone fills in
    (today, the month of the P0 slip, "not after today") follow its clock."""
    if abs(device_ms - server_ms) <= OFF_LIMIT_MS:
        return None
    return A0Error("app_clock_off", phone=shown(device_ms), server=shown(server_ms))


def good_floor(server_ms: int, max_ahead_ms: int, stamps: Iterable[int]) -> int:
    """Where the clock restarts: the highest stamp the server would still take (its own
    time, what it sent, this phone's accepted writes), so a later write of this phone
    never sorts before one of its earlier ones."""
    limit = server_ms + max_ahead_ms
    return max([pack(server_ms, 0), *(s for s in stamps if physical_ms(s) <= limit)])


def remap(stamp: Any, mapping: Mapping[int, int], device: str) -> Any:
    """A field clock ``[hlc, device]`` of this phone's refused write, moved to its new stamp."""
    if isinstance(stamp, (list, tuple)) and len(stamp) == 2 and stamp[1] == device \
            and stamp[0] in mapping:
        return [mapping[stamp[0]], device]
    return stamp
