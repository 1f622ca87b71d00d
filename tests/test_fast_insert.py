"""``insert_rows`` / ``update_rows`` store exactly what Core's executemany stores, on SQLite
and PostgreSQL.

The fast insert compiles each statement once and applies SQLAlchemy's own bind
processors; this checks the stored values (and, on SQLite, the stored text of
JSON and timestamps) against rows inserted the ordinary way, defaults included.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from server.extensions import db
from server.models.base import _PLANS, ROWS_PER_INSERT, insert_rows, update_rows
from server.models.pipeline import STATS, deferring
from server.models.register import Household


def _rows(prefix: str) -> list[dict]:
    now = dt.datetime(2025, 3, 14, 8, 30, 1, 123456, tzinfo=dt.UTC)
    rows = []
    for n in range(7):
        row = {"id": f"{prefix}-{n:04d}", "province_code": "33", "commune_code": "12619",
               "area_code": "12619.01.1", "village_code": None if n % 2 else "12619.01",
               "number": str(n), "address": "Xóm Đình, thôn Đông" if n % 3 else None,
               "head_member_id": None, "seq": n + 1, "updated_at": now,
               "data": {"number": str(n), "nested": [1, "á", None, {"b": True}]},
               "clocks": {"number": [2**62 + n, "device-1"]}, "deleted": bool(n % 2),
               "merged_into": None}
        if n % 3 == 0:  # a second key set: no created_at given, the default fills it
            row["created_at"] = now - dt.timedelta(days=n)
        rows.append(row)
    return rows


def _stored(session) -> list[tuple]:
    table = Household.__table__
    out = [tuple(r) for r in session.execute(select(table).order_by(table.c.id))]
    if session.get_bind().dialect.name == "sqlite":  # the bytes as stored, too
        out += [tuple(r) for r in session.execute(text(
            "SELECT data, clocks, updated_at, created_at, deleted FROM household ORDER BY id"))]
    return out


def test_insert_rows_stores_what_core_stores(session):
    insert_rows(session, Household, _rows("h"))
    fast = _stored(session)
    assert any(plan is not None and key[1] is Household.__table__
               for key, plan in _PLANS.items()), "the fast path was not taken"
    session.execute(delete(Household))
    rows = _rows("h")
    for key_set in ({k for k in rows[0]}, {k for k in rows[1]}):
        group = [r for r in rows if set(r) == key_set]
        session.execute(Household.__table__.insert(), group)
    core = _stored(session)
    assert len(fast) == len(core) and len(fast) >= 7
    # created_at filled by a per-row default differs in time only: compare the rest
    table = Household.__table__
    at = list(table.c.keys()).index("created_at")
    for a, b in zip(fast[:7], core[:7], strict=True):
        given = a[0].endswith(("0", "3", "6"))
        assert a[:at] + a[at + 1:] == b[:at] + b[at + 1:]
        if given:
            assert a[at] == b[at]
        else:
            assert isinstance(a[at], dt.datetime) and isinstance(b[at], dt.datetime)
    for a, b in zip(fast[7:], core[7:], strict=True):
        assert a[:3] + a[4:] == b[:3] + b[4:]  # raw text; created_at may differ by default
    db.session.rollback()


def test_insert_rows_refuses_a_value_too_long_like_core(session):
    from sqlalchemy.exc import DBAPIError

    row = _rows("x")[1]
    row["number"] = "9" * 40  # String(12): refused, never cut short
    if session.get_bind().dialect.name == "sqlite":
        insert_rows(session, Household, [row])  # SQLite does not enforce lengths: stored as is
        assert session.scalar(select(Household.number)) == "9" * 40
    else:
        with pytest.raises(DBAPIError):
            insert_rows(session, Household, [row])
    db.session.rollback()


def _changed(rows: list[dict]) -> list[dict]:
    """New values for every column but ``created_at`` (some rows), a subset (others)."""
    later = dt.datetime(2025, 4, 1, 9, 0, 0, 654321, tzinfo=dt.UTC)
    out = []
    for n, row in enumerate(rows):
        if n % 2:
            out.append({"id": row["id"], "number": f"{n}.1", "seq": 100 + n,
                        "data": {"number": f"{n}.1", "đ": [None, 2]}, "updated_at": later})
        else:
            changed = {k: v for k, v in row.items() if k != "created_at"}
            changed.update(address=None, deleted=not row["deleted"], merged_into="h-0001",
                           clocks={"number": [2**62 + 99, "device-2"]}, updated_at=later)
            out.append(changed)
    return out


def _dated(rows: list[dict]) -> list[dict]:
    return [{**r, "created_at": dt.datetime(2025, 1, 2, tzinfo=dt.UTC)} for r in rows]


def test_update_rows_stores_what_core_stores(session):
    insert_rows(session, Household, _dated(_rows("u")))
    update_rows(session, Household, _changed(_rows("u")))
    assert any(plan is not None and key[1] is Household.__table__ and key[3] == "update"
               for key, plan in _PLANS.items()), "the fast path was not taken"
    fast = _stored(session)
    session.execute(delete(Household))
    insert_rows(session, Household, _dated(_rows("u")))
    for row in _changed(_rows("u")):
        values = {k: v for k, v in row.items() if k != "id"}
        session.execute(update(Household).where(Household.id == row["id"]).values(**values))
    core = _stored(session)
    assert fast == core and len(fast) >= 7
    assert {r[0] for r in fast[:7]} == {f"u-{n:04d}" for n in range(7)}
    db.session.rollback()


def _many(prefix: str, count: int) -> list[dict]:
    base = _dated(_rows(prefix))
    return [{**base[n % 7], "id": f"{prefix}-{n:04d}", "number": str(n), "seq": n + 1}
            for n in range(count)]


@given(count=st.integers(min_value=1, max_value=75))
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_deferred_inserts_in_multi_row_statements_store_every_row_once(postgresql_app, count):
    """PostgreSQL, writes deferred (as a batch writes): rows go as multi-row statements of
    a few fixed sizes (33 rows: 32 + 1). Whatever the count, every row is stored once,
    as Core stores it, and a statement per size is sent, not one per row."""
    session = db.session
    rows = _many("m", count)
    deferred_before = STATS["deferred"]
    with deferring(session):
        insert_rows(session, Household, rows)
    expected_statements, left = 0, count
    while left:
        left -= next(n for n in ROWS_PER_INSERT if n <= left)
        expected_statements += 1
    assert STATS["deferred"] - deferred_before == (1 if count == 1 else expected_statements)
    fast = _stored(session)
    session.execute(delete(Household))
    session.execute(Household.__table__.insert(), _many("m", count))
    assert fast == _stored(session) and len(fast) == count
    session.rollback()


def test_a_deferred_multi_row_insert_that_fails_stores_nothing(postgresql_app):
    """A key inserted meanwhile, in the middle of a multi-row statement: the batch's
    transaction fails as a whole, as with one statement per row."""
    from sqlalchemy.exc import IntegrityError

    session = db.session
    insert_rows(session, Household, _many("d", 1)[:1])
    session.commit()
    rows = _many("d", 20)[1:] + _many("d", 1)  # the last one is already there
    with pytest.raises(IntegrityError), deferring(session):
        insert_rows(session, Household, rows)
    session.rollback()
    assert [r[0] for r in _stored(session)] == ["d-0000"]
