"""Field-level last-writer-wins merge, the same on server and device (DESIGN §3.6).

Every write of a field carries a stamp ``(hlc, device)``; the greatest stamp wins,
whatever order writes arrive in, so every replica that saw the same writes holds
the same value. A write also carries its *base*: the stamp of the value the
device showed when the collaborator edited the field. Two writes are concurrent
when neither had seen the other (:func:`concurrent`); if they also disagree, the
winner is kept and a conflict goes to commune review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Stamp = tuple[int, str]  # (hlc, device id): a total order over writes
ZERO: Stamp = (0, "")


def stamp_of(raw: Any) -> Stamp:
    """Stamps travel as JSON ``[hlc, device]``; ``None`` means "no value seen"."""
    return (int(raw[0]), str(raw[1])) if raw else ZERO


@dataclass(frozen=True)
class Write:
    field: str
    value: Any
    stamp: Stamp
    base: Stamp = ZERO  # what the writer had seen of this field


def saw(later: Write, earlier: Write) -> bool:
    """Had ``later``'s device seen ``earlier`` (or something newer) when it wrote?"""
    return later.base >= earlier.stamp


def concurrent(a: Write, b: Write) -> bool:
    """Neither write saw the other: a true conflict if the values differ."""
    return a.stamp != b.stamp and not saw(a, b) and not saw(b, a)


def conflicting(a: Write, b: Write) -> bool:
    return a.stamp[1] != b.stamp[1] and a.value != b.value and concurrent(a, b)


def merge_fields(data: dict[str, Any], clocks: dict[str, Any], values: Mapping[str, Any],
                 stamp: Stamp) -> list[str]:
    """Apply one write of several fields in place; return the fields it won.

    A field is won when the write's stamp is the greatest seen, even if the value
    is unchanged: its clock moves on, and that must be stored too. ``clocks`` maps
    a field to the JSON stamp of its current value. Ties cannot happen between
    different writes: the device id is part of the stamp.
    """
    won = []
    for name, value in values.items():
        if stamp > stamp_of(clocks.get(name)):
            clocks[name] = [stamp[0], stamp[1]]
            won.append(name)
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
    return won


def merge_remote(data: dict[str, Any], clocks: dict[str, Any], remote_data: Mapping[str, Any],
                 remote_clocks: Mapping[str, Any], keep: set[str] | frozenset[str] = frozenset(),
                 ) -> list[str]:
    """Fold another replica's copy of a record in; return the fields that changed.

    Walks the remote *clocks*, not its data: a field cleared remotely has a clock
    but no value, and the clearing must win here too. Fields in ``keep`` (local
    edits not yet acknowledged) are left alone.
    """
    won = []
    for name, raw in remote_clocks.items():
        if name not in keep:
            won += merge_fields(data, clocks, {name: remote_data.get(name)}, stamp_of(raw))
    return won
