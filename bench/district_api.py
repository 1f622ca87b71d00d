"""Speed of the district feeds: a full first read and an incremental read after a batch.

Loads a synthetic register of ``--persons`` members into communes of Hà Nội
(three of district 001 Ba Đình, read by a district token, and one of district
002, which the token must skip), then over the real HTTP stack (Flask test
client, bearer token, scope, cursor, audit row per page):

* ``full_s``: the whole members feed of the district, page after page;
* ``floor_s``: the same rows read by one plain SQL query (no API), measured in
  the same run — the ratio is the API's overhead;
* ``incremental_ms``: after 100 members changed (new change numbers, as a batch
  gives them), reading from the saved cursor (median of ``--repeat`` runs).

With ``--json`` the last line is
``{"persons": ..., "rows": ..., "full_s": ..., "floor_s": ..., "rows_per_s": ...,
"incremental_ms": ..., "pages": ...}``. ``DATABASE_URL`` selects PostgreSQL;
default is a SQLite file in a temporary folder.

    .venv/bin/python bench/district_api.py --persons 100000 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update  # noqa: E402

THREE_LEVEL = ROOT.parent / "shared" / "data" / "admin_units" / \
    "dvhcvn_2025-03-01_three_level.json"
COMMUNES = [("00001", "Phường Phúc Xá"), ("00004", "Phường Trúc Bạch"),
            ("00006", "Phường Vĩnh Phúc"), ("00037", "Phường Phúc Tân")]


def _load(app, persons: int, seed: int) -> int:
    from a0core.hlc import HybridClock
    from server.extensions import db
    from server.orgunits.formats import read_official_list
    from server.orgunits.importer import import_official
    from server.register.bulk import Writer, load_area
    from server.synthetic import generate_persons

    official = read_official_list(THREE_LEVEL)
    subset = dataclasses.replace(official,
                                 units=[u for u in official.units if u.province_code == "01"])
    import_official(db.session, subset, source=str(THREE_LEVEL))
    writer = Writer("server", HybridClock().now())
    period = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    loaded = 0
    for area in generate_persons(seed, COMMUNES, persons, period):
        commune = area.area_code.split(".")[0]
        loaded += load_area(db.session, area, "01", commune, writer).members
    db.session.commit()
    return loaded


def _read(client, headers, cursor: str | None, limit: int) -> tuple[int, str, int]:
    rows = pages = 0
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        resp = client.get("/api/v1/district/members", query_string=query, headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.get_json()
        rows += page["count"]
        pages += 1
        cursor = page["cursor"]
        if not page["more"]:
            return rows, cursor, pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from server import MIGRATIONS_DIR, create_app
    from server.district.feeds import FEEDS
    from server.extensions import db
    from server.models.register import Member
    from server.register.sequence import allocate
    from server.security.api_tokens import create_token
    from server.security.scope import Scope
    from server.security.users import create_user

    tmp = tempfile.mkdtemp(prefix="a0-bench-district-")
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tmp})
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        persons = _load(app, args.persons, args.seed)
        user = create_user(db.session, "huyen.badinh", "Cán bộ huyện", "mật khẩu đủ dài 2026",
                           "district_staff", "001", person_access=True)
        token, _ = create_token(db.session, user.username, "bench", created_by="bench")
        db.session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()

        started = time.perf_counter()
        rows, cursor, pages = _read(client, headers, None, args.limit)
        full_s = time.perf_counter() - started

        scope = Scope.for_user(db.session, user)
        started = time.perf_counter()
        columns = [Member.__table__.c[name] for name in FEEDS["members"].columns]
        floor_rows = len(db.session.execute(select(*columns).where(
            scope.where(Member)).order_by(Member.province_code, Member.seq)).all())
        floor_s = time.perf_counter() - started
        db.session.rollback()
        assert floor_rows == rows, (floor_rows, rows)

        timings = []
        for _ in range(args.repeat):
            ids = db.session.scalars(select(Member.id).where(scope.where(Member))
                                     .order_by(Member.seq).limit(100)).all()
            first = allocate(db.session, "01", len(ids))
            db.session.execute(update(Member), [{"id": i, "seq": first + n}
                                                for n, i in enumerate(ids)])
            db.session.commit()
            started = time.perf_counter()
            changed, cursor, _ = _read(client, headers, cursor, args.limit)
            timings.append((time.perf_counter() - started) * 1000)
            assert changed == len(ids), (changed, len(ids))
        db.session.remove()
        db.engine.dispose()

    result = {"persons": persons, "rows": rows, "pages": pages, "full_s": round(full_s, 3),
              "floor_s": round(floor_s, 3), "rows_per_s": round(rows / full_s),
              "incremental_ms": round(statistics.median(timings), 2),
              "database": url.split(":")[0]}
    if not args.json:
        for key, value in result.items():
            print(f"{key:>15}: {value}")
    else:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
