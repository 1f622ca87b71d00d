"""Lists bound as PostgreSQL arrays by the server's own dumper (server.models.arrays):
whatever the values, the database reads back exactly the list that was bound."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import DataError
from psycopg.adapt import PyFormat
from sqlalchemy import text

from server.models.arrays import JoinedListDumper
from server.models.base import db

pytestmark = pytest.mark.postgres

# any text PostgreSQL can hold (no NUL, no lone surrogate), with the characters an array's text form
# treats specially well represented
TEXTS = st.text(alphabet=st.one_of(st.sampled_from('",{}\\ \t\nNULLnull\'é;'),
                                   st.characters(blacklist_characters="\x00",
                                                 blacklist_categories=("Cs",))))
ONCE = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read_back(sql: str, values: list[Any]) -> list[Any]:
    return db.session.execute(text(sql), {"v": values}).scalar_one()


def test_the_server_binds_lists_with_its_own_dumper(postgresql_app: Flask) -> None:
    raw = db.session.connection().connection.driver_connection
    assert raw.adapters.get_dumper(list, PyFormat.TEXT) is JoinedListDumper

    def dumped(values: list[Any]) -> bytes:
        return bytes(JoinedListDumper(list, raw).upgrade(values, PyFormat.TEXT).dump(values))

    # ids and change numbers in one join (every string quoted), not element by element
    assert dumped(["a", "b c"]) == b'{"a","b c"}'
    assert dumped([3, None, -1]) == b"{3,NULL,-1}"
    # a quote or a backslash: psycopg's own code
    assert dumped(['a"b', "c"]) == b'{"a\\"b",c}'
    with pytest.raises(DataError):  # a NUL: psycopg's own refusal, as before
        dumped(["a\x00b", "c"])


@ONCE
@given(values=st.lists(TEXTS, max_size=12))
def test_any_list_of_text_comes_back_as_bound(postgresql_app: Flask,
                                              values: list[str]) -> None:
    assert _read_back("SELECT CAST(:v AS varchar[])", values) == values


@ONCE
@given(values=st.lists(st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)), max_size=12))
def test_any_list_of_numbers_comes_back_as_bound(postgresql_app: Flask,
                                                 values: list[int | None]) -> None:
    assert _read_back("SELECT CAST(:v AS bigint[])", values) == values


@ONCE
@given(values=st.lists(st.one_of(st.none(), TEXTS), min_size=1, max_size=8))
def test_text_with_nulls_comes_back_as_bound(postgresql_app: Flask,
                                             values: list[str | None]) -> None:
    assert _read_back("SELECT CAST(:v AS text[])", values) == values
