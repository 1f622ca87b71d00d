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
import time
from collections.abc import Iterable, Mapping
from typing import Any

from a0core.errors import A0Error
from a0core.hlc import pack, physical_ms
from a0core.vntime import VN_TZ

CLOCK_CODE = "hlc_future"
DEFAULT_MAX_AHEAD_MS = 24 * 3600 * 1000
OFF_LIMIT_MS = 3600 * 1000  # an hour: a date goes wrong only near midnight


def shown(ms: int) -> str:
    """A time as a person in Vietnam reads it: 03/12/2026 14:05 (as on the dashboard)."""
    return dt.datetime.fromtimestamp(ms / 1000, VN_TZ).strftime("%d/%m/%Y %H:%M")


def since_boot_ms() -> int:
    """A clock that setting the phone's date and time does not move (and, where the
    system has one, that counts sleep): how a stored offset to the server's clock is
    known to still hold."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    seconds = time.clock_gettime(boottime) if boottime is not None else time.monotonic()
    return int(seconds * 1000)


def still_off(seen: list[int] | None, device_ms: int, boot_ms: int) -> A0Error | None:
    """The clock is still off as last measured (``seen``: server's time, the phone's,
    :func:`since_boot_ms`): it was off at the last answer (:func:`off`) and has run
    evenly since (not set, no restart). Else None: right then, or set since, so what
    it is off now is unknown until the next sync."""
    if not seen or len(seen) < 3 or (error := off(seen[1], seen[0])) is None:
        return None
    if abs((device_ms - seen[1]) - (boot_ms - seen[2])) > OFF_LIMIT_MS:
        return None  # the clock was set (or the phone restarted) since
    return error


def date_offset(seen: list[int] | None, device_ms: int, boot_ms: int) -> int:
    """What to add to the phone's clock for the day it fills in and checks: the offset
    to the server's clock measured at the last answer while it is :func:`still_off`;
    else 0, the phone's own clock."""
    if still_off(seen, device_ms, boot_ms) is None:
        return 0
    return int(seen[0]) - int(seen[1])  # seen is there: still_off found it off


def sane(device_ms: int, server_ms: int, max_ahead_ms: int) -> bool:
    """Is the phone's clock close enough to the server's for its stamps to be taken?"""
    return device_ms - server_ms <= max_ahead_ms // 2


def wrong_clock(device_ms: int, server_ms: int) -> A0Error:
    """What the collaborator is told: both times, and how to set the phone's clock."""
    return A0Error("app_clock_wrong", phone=shown(device_ms), server=shown(server_ms))


def off(device_ms: int, server_ms: int) -> A0Error | None:
    """A clock more than :data:`OFF_LIMIT_MS` either way from the server's: the sync
    goes on (a clock behind is harmless to stamps); the dates the phone fills in and
    checks (today, the month of the P0 slip, "not after today") follow the server's
    clock until a sync finds the phone's right (:meth:`AppCore.date_offset_ms`)."""
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
