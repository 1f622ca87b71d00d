"""The roll-ups as a workbook a district officer reads, which a program still reads.

Row 1 names the columns in Vietnamese, row 2 holds the column codes of the CSV and
JSON exports (a program reads the sheet with row 2 as its header: pandas'
``header=1``). The columns a person reads come first — unit name, level, month,
indicator name, value — and the codes after them, in their own columns, so a filter
or a lookup works on either without a second sheet to look codes up in. A month is a
date shown ``12/2026``; a count is a number shown ``5.083``, a rate one with one
decimal (``76,9``); a rate with nothing to divide by, which the CSV leaves out, is a
row with an empty value (never 0). Text cells are neutralised like every export's.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from server.exports.writers import xlsx_cell
from server.orgunits.lineage import unit_names
from server.rollups.indicators import CATALOGUE, catalogue_name, indicator_name

# (code, Vietnamese heading) in the order written
COLUMNS = (("unit_name", "Tên đơn vị"), ("level_name", "Cấp"), ("month", "Tháng"),
           ("indicator_name", "Chỉ tiêu"), ("value", "Giá trị"), ("unit_code", "Mã đơn vị"),
           ("level", "Mã cấp"), ("indicator", "Mã chỉ tiêu"), ("tree", "Danh mục đơn vị"))
WIDTHS = (30, 12, 9, 60, 10, 14, 10, 28, 12)
LEVELS = {"national": "Toàn quốc", "province": "Tỉnh", "district": "Huyện",
          "commune": "Xã", "village": "Thôn, tổ dân phố", "area": "Địa bàn CTV",
          "station": "Trạm y tế"}
RATES = tuple(i.name for i in CATALOGUE if i.kind == "ratio")
_CELLS_PER_LOOKUP = 500


def rows(session: Session, cells: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows from roll-up cells (tree, unit, level, month, values), unit
    names looked up a page of cells at a time."""
    names: dict[tuple[str, str], str | None] = {}
    labels = {key: indicator_name(key) for key in RATES}
    catalogued = set(RATES)  # keys of the catalogue (others: another module's)
    cells = iter(cells)
    while page := list(itertools.islice(cells, _CELLS_PER_LOOKUP)):
        for tree in {c[0] for c in page}:
            codes = {c[1] for c in page if c[0] == tree and (tree, c[1]) not in names}
            found = unit_names(session, tree, codes)
            names.update(((tree, code), found.get(code)) for code in codes)
        for tree, unit, level, month, values in page:
            day = dt.date(int(month[:4]), int(month[5:7]), 1)
            for key in values:
                if key not in labels:
                    labels[key] = indicator_name(key)
                    if catalogue_name(key):
                        catalogued.add(key)
            # every rate of the catalogue, in a cell of its indicators (not a station's)
            keys = {*values, *RATES} if catalogued.intersection(values) else set(values)
            for key in sorted(keys):
                yield (names.get((tree, unit)), LEVELS.get(level, level), day,
                       labels[key], values.get(key), unit, level, key, tree)


def write_xlsx(sheet_rows: Iterable[Sequence[Any]], out: BinaryIO) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Số liệu tổng hợp")
    sheet.freeze_panes = "A3"
    for i, width in enumerate(WIDTHS, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)
    for header in ([vi for _, vi in COLUMNS], [code for code, _ in COLUMNS]):
        cells = [xlsx_cell(sheet, text) for text in header]
        for cell in cells:
            cell.font = bold
        sheet.append(cells)
    for row in sheet_rows:
        value, key = row[4], row[7]
        shown = "0.0" if key in RATES else "#,##0" if isinstance(value, int) else None
        sheet.append([xlsx_cell(sheet, row[0]), xlsx_cell(sheet, row[1]),
                      xlsx_cell(sheet, row[2], "mm/yyyy"), xlsx_cell(sheet, row[3]),
                      xlsx_cell(sheet, value, shown), *(xlsx_cell(sheet, v) for v in row[5:])])
    book.save(out)
