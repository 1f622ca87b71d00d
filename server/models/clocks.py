"""Per-field clocks stored compactly (issue 19; migration 0022).

Merging needs, for every field of a household or member, the stamp ``(hlc,
device)`` of the write that won it. Kept as ``{field: [hlc, device]}`` that
repeated a 36-character device id per field: 545 of a member row's ~1,200 bytes.
Nearly every field of a record was written by the same operation, so the column
holds one group per stamp instead::

    [[hlc, "device", "field", "field", …], …]     groups by stamp, names sorted

Everything above the column still sees ``{field: [hlc, device]}``: the column's
type packs on the way in and unpacks on the way out, for the ORM, Core and the
positional fast path (:func:`server.models.base.insert_rows`) alike, so merge,
conflicts, pull (the wire format is unchanged), the roll-ups' tie-breaks, the
reform migration and duplicate merges read and write clocks as before. A value
still in the old form (a row written before the migration, say by a server not
yet upgraded) is read as it is. The packing itself is :mod:`a0core.clocks`, shared with
the app's store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON
from sqlalchemy.types import TypeDecorator

from a0core.clocks import Packed, pack, unpack

__all__ = ["Packed", "PackedClocks", "pack", "unpack"]


class PackedClocks(TypeDecorator):
    """A JSON column holding clocks packed by stamp (:func:`pack`, :func:`unpack`)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return pack(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        """The fields of one stamp share one ``[hlc, device]`` list: the server replaces
        a field's stamp (:func:`a0core.merge.merge_fields`), never changes one in
        place, and a list per field was most of reading a batch's rows' clocks."""
        return unpack(value, shared=True)
