"""Per-field clocks packed by stamp, for storage (the server's column, the app's store).

Merging needs, for every field of a household or member, the stamp ``(hlc, device)``
of the write that won it: ``{field: [hlc, device]}``. Nearly every field of a record
was written by the same operation, so storage holds one group per stamp instead::

    [[hlc, "device", "field", "field", …], …]     groups by stamp, names sorted

Pure Python, no database: the server's column type (:mod:`server.models.clocks`,
migration 0022) and the app's encrypted store (:mod:`clients.kivy_app.core.register`)
both pack with it. A value still in the old form is read as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Packed = list[list[Any]]


def pack(clocks: Mapping[str, Any] | Packed | None) -> Packed | None:
    """``{field: [hlc, device]}`` → one ``[hlc, device, *fields]`` group per stamp."""
    if clocks is None or isinstance(clocks, list):
        return clocks
    groups: dict[tuple[int, str], list[str]] = {}
    for name, stamp in clocks.items():
        groups.setdefault((int(stamp[0]), str(stamp[1])), []).append(name)
    return [[hlc, device, *sorted(names)] for (hlc, device), names in sorted(groups.items())]


def unpack(value: Packed | Mapping[str, Any] | None, *,
           shared: bool = False) -> dict[str, Any] | None:
    """The packed groups (or a value in the old form) → ``{field: [hlc, device]}``.

    ``shared``: the fields of one stamp share one ``[hlc, device]`` list, for readers
    that replace a field's stamp and never change one in place (a pull page, which is
    only serialised or read; the app's register, whose merges replace stamps). Most of
    the time of unpacking a page goes to making a list per field otherwise."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {name: [stamp[0], stamp[1]] for name, stamp in value.items()}
    out: dict[str, Any] = {}
    if shared:
        for group in value:
            if type(group) is not list or len(group) < 2:
                raise ValueError("a clock group is [hlc, device, field, …]")
            out.update(dict.fromkeys(group[2:], group[:2]))
        return out
    for hlc, device, *names in value:
        for name in names:
            out[name] = [hlc, device]
    return out
