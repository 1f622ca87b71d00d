"""Exports as a unit of work: check the format and the right to see persons, read, audit.

Person-level data leaves the server only for a scope with ``person_level``
(DESIGN §5–6), and every such export is written to the audit log with who, what,
the format and how many rows. A refusal raises a coded :class:`A0Error` before
anything is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import update
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.exports import queries, rollup_book, writers
from server.exports.filters import check_filter
from server.models.people import AuditLog
from server.security import audit
from server.security.scope import Scope

ROLLUPS, PERSONS = "rollups", "persons"
KINDS = (ROLLUPS, PERSONS)


@dataclass
class Export:
    kind: str
    fmt: str
    columns: Sequence[str]
    rows: writers.Counted  # rows; for a person CSV, the lines the database wrote

    @property
    def filename(self) -> str:
        return f"a0sync-{self.kind}.{self.fmt}"

    def chunks(self) -> Iterable[bytes]:
        """The CSV or JSON export as byte chunks (XLSX: :meth:`write`)."""
        if self.fmt == "json":
            return writers.json_chunks(self.columns, self.rows)
        if self.kind == PERSONS:
            return writers.csv_line_chunks(self.columns, self.rows)
        return writers.csv_chunks(self.columns, self.rows)

    def write(self, out: BinaryIO) -> None:
        """The whole export into the binary stream ``out``."""
        if self.fmt == "xlsx" and self.kind == ROLLUPS:
            rollup_book.write_xlsx(self.rows, out)
            return
        if self.fmt == "xlsx":
            writers.write_xlsx(self.columns, self.rows, out, title=self.kind)
            return
        for chunk in self.chunks():
            out.write(chunk)


def open_export(session: Session, scope: Scope, kind: str, fmt: str,
                where: queries.RollupFilter = queries.ALL) -> Export:
    """Check the request and prepare the row stream (nothing is read yet)."""
    if fmt not in writers.FORMATS:
        raise A0Error("export_format_unknown", record=fmt)
    if kind in KINDS:
        check_filter(session, where, rollups=kind == ROLLUPS)
    if kind == PERSONS:
        if not scope.person_level:
            raise A0Error("person_level_forbidden")
        if fmt == "csv":  # the database writes the lines: a million persons in seconds
            return Export(kind, fmt, queries.PERSON_COLUMNS,
                          writers.Counted(queries.person_csv_lines(session, scope)))
        return Export(kind, fmt, queries.PERSON_COLUMNS,
                      writers.Counted(queries.person_rows(session, scope)))
    if kind != ROLLUPS:
        raise A0Error("not_found")
    if fmt == "xlsx":  # for a person, with the codes beside the names
        cells = queries.rollup_cells(session, scope, where)
        return Export(kind, fmt, [code for code, _ in rollup_book.COLUMNS],
                      writers.Counted(rollup_book.rows(session, cells)))
    return Export(kind, fmt, queries.ROLLUP_COLUMNS,
                  writers.Counted(queries.rollup_rows(session, scope, where)))


def audit_export(session: Session, scope: Scope, export: Export, *, rows: int | None,
                 ip: str | None = None) -> AuditLog | None:
    """Log a person-level export (roll-ups are aggregates and are not logged). A stream
    is logged before its first row leaves, with ``rows`` unknown: :func:`count_rows`
    writes the count once it is sent."""
    if export.kind != PERSONS:
        return None
    code = scope.code if scope.level == "commune" else None
    return audit.record(session, scope.actor, "export.persons",
                        target=f"{scope.level}:{scope.code}",
                        province_code=scope.code if scope.level == "province" else None,
                        commune_code=code, details={"format": export.fmt}, ip=ip,
                        row_count=rows)


def count_rows(session: Session, audit_id: int, rows: int) -> None:
    """The rows a streamed export sent, on its audit row (committed)."""
    session.execute(update(AuditLog).where(AuditLog.id == audit_id).values(row_count=rows))
    session.commit()


def export_to(session: Session, scope: Scope, kind: str, fmt: str, out: BinaryIO,
              where: queries.RollupFilter = queries.ALL) -> int:
    """Write a whole export to ``out``; audit it; commit. Returns the number of rows."""
    export = open_export(session, scope, kind, fmt, where)
    export.write(out)
    audit_export(session, scope, export, rows=export.rows.count)
    session.commit()
    return export.rows.count
