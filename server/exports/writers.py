"""Write rows as CSV, XLSX or JSON, streaming: one row in memory at a time.

* CSV: UTF-8 with a byte-order mark, so Excel on a Vietnamese Windows opens the
  diacritics right; a header row of column names.
* XLSX: openpyxl's ``write_only`` workbook (rows go to a temporary file as they
  come, not into a tree of cells).
* JSON: ``{"columns": [...], "rows": [[...], ...]}`` written piece by piece.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


class Counted:
    """Wraps a row iterator and counts what went through (for the audit log)."""

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def csv_chunks(columns: Sequence[str], rows: Iterable[Sequence[Any]],
               rows_per_chunk: int = 1000) -> Iterable[bytes]:
    """CSV as byte chunks (for HTTP streaming and files alike); None is written empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(columns)
    rows = iter(rows)
    while True:
        block = list(itertools.islice(rows, rows_per_chunk))
        writer.writerows(block)
        if len(block) < rows_per_chunk:
            break
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def json_chunks(columns: Sequence[str], rows: Iterable[Sequence[Any]],
                rows_per_chunk: int = 1000) -> Iterable[bytes]:
    parts = ['{"columns": ', json.dumps(list(columns), ensure_ascii=False), ', "rows": [']
    first = True
    for row in rows:
        parts.append(("" if first else ",\n") + json.dumps(list(row), ensure_ascii=False,
                                                           default=str))
        first = False
        if len(parts) >= rows_per_chunk:
            yield "".join(parts).encode("utf-8")
            parts = []
    parts.append("]}\n")
    yield "".join(parts).encode("utf-8")


def write_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: BinaryIO,
               title: str = "a0sync") -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append(list(row))
    book.save(out)


def write(fmt: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], out: BinaryIO,
          title: str = "a0sync") -> None:
    """Write ``rows`` to the binary stream ``out`` in ``fmt``."""
    if fmt == "xlsx":
        write_xlsx(columns, rows, out, title)
        return
    chunks = csv_chunks(columns, rows) if fmt == "csv" else json_chunks(columns, rows)
    for chunk in chunks:
        out.write(chunk)
