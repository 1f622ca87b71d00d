"""A report form as an XLSX workbook: the same rows as the printable page.

Sheet one holds the form (title lines, then "STT | Tên chỉ tiêu | Đơn vị tính |
the unit | the units below", a heading line per section, assumed rows marked
``*`` in their own column); sheet two says what is assumed and where the numbers
come from. Numbers stay numbers (a spreadsheet sums them); a rate with nothing to
divide by is the page's "x", as text; text that a spreadsheet would run as a formula
is neutralised like every export's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font

from server.exports.writers import neutralise
from server.formats import NOT_COMPUTABLE
from server.reporting.forms import Period, Section


def write_report(out: BinaryIO, *, title: Sequence[str], period: Period,
                 columns: Sequence[tuple[str, str]], values: Mapping[str, Mapping[str, Any]],
                 sections: Sequence[Section], notes: Sequence[str], lang: str = "vi",
                 no_data: str | None = None) -> None:
    """``columns``: (unit code, heading) — the unit itself first, then the units below.
    ``no_data``: said under the period when nothing was counted (the zeros are no count).

    Written row by row (openpyxl's write-only mode: a province's form has over ten
    thousand cells, which the ordinary mode keeps, sorts and styles one by one)."""
    vi = lang == "vi"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Báo cáo" if vi else "Report")
    sheet.column_dimensions["B"].width = 70
    bold, wrap = Font(bold=True), Alignment(wrap_text=True)
    right = Alignment(horizontal="right")

    def styled(value: Any, font: Font | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value)
        if font is not None:
            cell.font = font
        return cell

    def rate(value: Any) -> WriteOnlyCell:
        """A rate: a number shown with one decimal, as on the page (68,0); with nothing
        to divide by, the page's "x" as text (a sum or a chart skips it, where a 0
        would count as a rate of nothing)."""
        if value is None:
            cell = styled(NOT_COMPUTABLE)
            cell.alignment = right
            return cell
        cell = styled(value)
        cell.number_format = "0.0"
        return cell

    def label(value: Any, font: Font | None = None) -> WriteOnlyCell:
        """A cell of column B (wrapped)."""
        cell = styled(value, font)
        cell.alignment = wrap
        return cell

    for line in title:
        sheet.append([styled(neutralise(line), bold)])
    first, last = period.span(lang)
    sheet.append([f"{period.label(lang)} ({first} – {last})"])
    if no_data:
        sheet.append([styled(no_data, bold)])
    sheet.append([])
    header = ["STT" if vi else "No.", "Tên chỉ tiêu" if vi else "Indicator",
              "Đơn vị tính" if vi else "Unit", *(neutralise(h) for _, h in columns),
              "Giả định (*)" if vi else "Assumed (*)"]
    sheet.append([(label if i == 1 else styled)(text, bold) for i, text in enumerate(header)])
    cells = [values.get(code, {}) for code, _ in columns]
    for section in sections:
        sheet.append([section.number, label(section.label(lang), bold)])
        for row in section.rows:
            sheet.append([row.number, label(("   " * row.depth) + row.label(lang)),
                          row.unit_label(lang),
                          *((rate if row.unit == "percent" and row.collected else styled)(
                              row.value(cell)) for cell in cells),
                          "" if row.official else "*"])
    notes_sheet = book.create_sheet("Ghi chú" if vi else "Notes")
    notes_sheet.column_dimensions["A"].width = 120
    for line in notes:
        notes_sheet.append([neutralise(line)])
    book.save(out)
