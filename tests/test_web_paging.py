"""Paging never loses or repeats a row, whatever the page size or the input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.web.queries.paging import MAX_PER_PAGE, clamp, page_of


@given(st.integers(0, 700), st.integers(1, MAX_PER_PAGE))
def test_pages_cover_every_row_once(total: int, per_page: int) -> None:
    rows = list(range(total))
    first = page_of(rows, 1, per_page)
    seen = []
    for number in range(1, first.pages + 1):
        page = page_of(rows, number, per_page)
        assert page.has_prev == (number > 1) and page.has_next == (number < page.pages)
        assert list(page.items) == rows[page.first_index - 1:page.last_index] or total == 0
        seen.extend(page.items)
    assert seen == rows
    assert list(page_of(rows, first.pages + 5, per_page).items) == (
        list(page_of(rows, first.pages, per_page).items))  # past the end: the last page


@given(st.one_of(st.integers(), st.text(max_size=12), st.none()),
       st.one_of(st.integers(), st.text(max_size=12), st.none()))
def test_untrusted_paging_arguments_are_clamped(page, per_page) -> None:
    number, size = clamp(page, per_page)
    assert 1 <= number <= 10**6 and 1 <= size <= MAX_PER_PAGE
