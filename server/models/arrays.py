"""Lists bound as PostgreSQL arrays, written in one join (issue 19, "a lighter batch").

A monthly batch binds about seventeen lists (its look-ups by ids, its checks, the
settle step), some 380 values. psycopg writes an array's text element by element,
each through its dumper and a regular expression that decides whether it needs
quotes: 0.7 ms of the batch's 17 ms of Python (``bench/profile_ingest.py``). The
server binds lists of strings (ids, codes) and of integers (change numbers, NULL for
a row that was missing); those are written here in one join: every string quoted
(a quoted element means the same in any array, so no test is needed), integers
bare. Anything else, or a string holding a quote, a backslash or a NUL, is left to
psycopg's own code.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.array import ListDumper

_NONE = type(None)


class JoinedListDumper(ListDumper):
    """psycopg's text array dumper, with the server's two common cases done in one join."""

    def dump(self, obj: list[Any]) -> Any:
        sub = self.sub_dumper
        if not obj or sub is None or self.delimiter != b",":
            return super().dump(obj)
        types = set(map(type, obj))
        if sub.cls is str and types == {str}:
            text = '","'.join(obj)  # a quote in a value: one more than the joins made
            if (text.count('"') == 2 * len(obj) - 2 and "\\" not in text
                    and "\x00" not in text):  # NUL: psycopg's own refusal
                return ('{"' + text + '"}').encode()
        elif types <= {int, _NONE}:  # exactly int: not bool
            if _NONE in types:
                return ("{" + ",".join("NULL" if v is None else str(v) for v in obj) + "}"
                        ).encode()
            return ("{" + ",".join(map(str, obj)) + "}").encode()
        return super().dump(obj)


def register(connection: Any) -> None:
    """Use :class:`JoinedListDumper` for the lists bound on this psycopg connection (one
    talking UTF-8, as the server's databases do)."""
    if connection.info.encoding == "utf-8":
        connection.adapters.register_dumper(list, JoinedListDumper)
