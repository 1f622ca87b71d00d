"""Write rows as CSV, XLSX or JSON, streaming: one row in memory at a time.

* CSV: UTF-8 with a byte-order mark, so Excel on a Vietnamese Windows opens the
  diacritics right; a header row of column names; every field quoted.
* XLSX: openpyxl's ``write_only`` workbook (rows go to a temporary file as they
  come, not into a tree of cells).
* JSON: ``{"columns": [...], "rows": [[...], ...]}`` written piece by piece.

A field typed on a phone reaches a spreadsheet: text that begins with ``= + - @``,
a tab or a carriage return is neutralised with a leading apostrophe (OWASP's rule
against formula injection) in CSV and XLSX alike, and an XLSX text cell is always a
string, never a formula. Numbers are written as numbers. JSON is data for programs
and keeps every value as it is.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

FORMATS = ("csv", "xlsx", "json")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CRLF = "\r\n"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


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
    yield _csv_header(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CRLF, quoting=csv.QUOTE_ALL)
    rows = iter(rows)
    while block := list(itertools.islice(rows, rows_per_chunk)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([neutralise(v) for v in row] for row in block)
        yield buffer.getvalue().encode("utf-8")


def csv_line_chunks(columns: Sequence[str], lines: Iterable[str],
                    lines_per_chunk: int = 1000) -> Iterable[bytes]:
    """CSV from lines the database wrote in the same format
    (:class:`server.exports.queries.csv_line`)."""
    yield _csv_header(columns)
    lines = iter(lines)
    while block := list(itertools.islice(lines, lines_per_chunk)):
        yield (CRLF.join(block) + CRLF).encode("utf-8")


def _csv_header(columns: Sequence[str]) -> bytes:
    quoted = ('"' + neutralise(c).replace('"', '""') + '"' for c in columns)
    return ("\ufeff" + ",".join(quoted) + CRLF).encode("utf-8")


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
    sheet.append([xlsx_cell(sheet, c) for c in columns])
    for row in rows:
        sheet.append([xlsx_cell(sheet, v) for v in row])
    book.save(out)


def xlsx_cell(sheet: Any, value: Any, number_format: str | None = None) -> Any:
    """A value for a write-only sheet: text neutralised and always a string, a number
    with ``number_format`` if given, anything else as it is."""
    from openpyxl.cell import WriteOnlyCell

    text = isinstance(value, str)
    if not text and number_format is None:
        return value
    cell = WriteOnlyCell(sheet, neutralise(value))
    if text:
        cell.data_type = "s"  # openpyxl makes any text that begins with "=" a formula
    if number_format:
        cell.number_format = number_format
    return cell
