"""Offset paging for dashboard lists: one count, one page of rows.

Lists are ordered by indexed columns and a unique tie-breaker so pages never
overlap; ``per_page`` is capped so a URL cannot ask for a million rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def clamp(page: Any, per_page: Any = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """Page number ≥ 1 and a page size within 1…MAX_PER_PAGE, from untrusted input."""
    try:
        number = max(1, min(int(page), 10**6))
    except (TypeError, ValueError):
        number = 1
    try:
        size = max(1, min(int(per_page), MAX_PER_PAGE))
    except (TypeError, ValueError):
        size = DEFAULT_PER_PAGE
    return number, size


def paginate(session: Session, stmt: Select, page: int, per_page: int,
             *, scalars: bool = False) -> Page[Any]:
    """Run ``stmt`` (already scoped and ordered) for one page, with the total count."""
    total = session.scalar(select(func.count()).select_from(
        stmt.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(page, pages)
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    rows = list(session.scalars(paged)) if scalars else list(session.execute(paged))
    return Page(rows, page, per_page, total)


def page_of(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    """The same paging over a list already in memory (e.g. a receipt's verdicts)."""
    total = len(items)
    page = min(page, max(1, math.ceil(total / per_page)))
    start = (page - 1) * per_page
    return Page(items[start:start + per_page], page, per_page, total)
