"""Batches of one province ingest side by side, and no cursor skips (issue 19).

On PostgreSQL, where batches really run at once (SQLite has one writer):

* two batches of one province, from two areas, are inside their merge at the
  same moment (a barrier both must pass; under a province-wide lock held from the
  first write, the second never gets there and the barrier breaks);
* threads send batches of five devices of one province (two of them sharing an
  area and editing the same people) while every device pulls between its sends
  and a province account reads the district feeds throughout. Every change is
  seen exactly once by every cursor: no row version twice, and the last version of
  every row at the end (a cursor that passed a change committing later would miss
  it for good); every operation is stored once; the roll-ups, done after the
  commits from the follow-up queue, equal a full recompute.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from server.extensions import db
from server.models.register import Distribution, Household, Member
from server.models.rollups import RollupCell
from server.models.sync import FollowUp, SyncOp
from server.rollups.jobs import full_recompute
from server.sync import ingest
from tests.support.district import AREAS, build_world
from tests.support.register import distribution, household, member, new_id, unique_name
from tests.support.sim import SimDevice

PROVINCE = "01"
MODELS = {"household": Household, "member": Member, "distribution": Distribution}
FEEDS = {"households": "household", "members": "member", "distributions": "distribution"}


class Recording(SimDevice):
    """A device that remembers every (kind, id, seq) its pulls brought."""

    def __init__(self, app, area: str) -> None:
        commune, _, province = AREAS[area]
        super().__init__(app, area=area, commune=commune, province=province)
        self.seen: list[tuple[str, str, int]] = []

    def apply_page(self, page) -> None:
        self.seen += [(c["kind"], c["id"], c["seq"]) for c in page["changes"]
                      if c["kind"] in MODELS]
        super().apply_page(page)


def test_two_batches_of_one_province_overlap(postgresql_app, monkeypatch):
    app = postgresql_app
    devices = [SimDevice(app, area="12619.01.1"), SimDevice(app, area="12619.02.1")]
    for device in devices:
        device.upsert("household", new_id(), household(device.area))
    meeting = threading.Barrier(2, timeout=20)
    merge = ingest._prefetch

    def both_inside(*args):  # each batch waits here for the other one
        meeting.wait()
        merge(*args)

    monkeypatch.setattr(ingest, "_prefetch", both_inside)

    def send(device: SimDevice):
        with app.app_context():
            return device.send(app.test_client(), device.seal())

    with ThreadPoolExecutor(2) as pool:
        bodies = list(pool.map(send, devices))
    assert all(b["receipt"]["verdicts"][0]["verdict"] == "applied" for b in bodies), bodies
    assert db.session.scalar(select(func.count()).select_from(Household)) == 2


def test_a_batch_writing_does_not_hold_its_province(postgresql_app, monkeypatch):
    """The province's serial step is its numbering and commit only: while one batch is
    writing its rows (held inside its ledger write), a batch of another area of the
    same province is received and committed. Under the counter's lock taken before
    the writes, the second batch waits for the first and this fails."""
    app = postgresql_app
    devices = [SimDevice(app, area="12619.01.1"), SimDevice(app, area="12619.02.1")]
    for device in devices:
        device.upsert("household", new_id(), household(device.area))
    inside, second_done = threading.Event(), threading.Event()
    write_ledger = ingest.write_ledger

    def held(session, place, *args, **kwargs):
        if place.area_code == devices[0].area:
            inside.set()
            second_done.wait(30)
        return write_ledger(session, place, *args, **kwargs)

    monkeypatch.setattr(ingest, "write_ledger", held)

    def send(device: SimDevice):
        with app.app_context():
            return device.send(app.test_client(), device.seal())

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(send, devices[0])
        assert inside.wait(20)
        second = pool.submit(send, devices[1])
        try:
            body = second.result(timeout=15)  # while the first is still writing
        finally:
            second_done.set()
        assert body["receipt"]["verdicts"][0]["verdict"] == "applied"
        assert first.result(timeout=30)["receipt"]["verdicts"][0]["verdict"] == "applied"
    assert db.session.scalar(select(func.count()).select_from(Household)) == 2


def test_a_row_written_meanwhile_is_not_overwritten(postgresql_app, monkeypatch):
    """A batch writes a register row only as it read it: another writer (a review, a
    merge) committing a change of that row between the batch's read and its write
    makes the batch start again from the row as it is now, so neither change is lost."""
    from sqlalchemy.orm import Session

    from server.register.sequence import allocate

    app = postgresql_app
    device = SimDevice(app, area="12619.01.1")
    hh, mid = new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mid, member(hh))
    device.send(app.test_client(), device.seal())
    device.upsert("member", mid, {"full_name": "Trần Thị Lan Anh"})
    release, calls = ingest._release_waiting, []

    def meanwhile(session, ws, *args):
        calls.append(ws.get("member", mid)["seq"])
        if len(calls) == 1:  # after the batch read the person, before it writes them
            with Session(db.engine) as other:
                row = other.get(Member, mid)
                row.data = {**row.data, "education": "upper_secondary"}
                row.seq = allocate(other, row.province_code, 1)
                other.commit()
        return release(session, ws, *args)

    monkeypatch.setattr(ingest, "_release_waiting", meanwhile)
    body = device.send(app.test_client(), device.seal())
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied"
    assert len(calls) == 2 and calls[1] > calls[0]  # started again, from the new row
    db.session.expire_all()
    row = db.session.get(Member, mid)
    assert (row.full_name, row.data["education"]) == ("Trần Thị Lan Anh", "upper_secondary")


def test_two_batches_of_one_device_at_once(app, monkeypatch):
    """A phone that gave up waiting sends its next batch while the first is still being
    merged: both read the device's sequence state before either holds the area's lock;
    the second to write finds that state moved on, starts again, and the device's
    contiguous mark counts both batches."""
    from server.models.sync import DeviceSync

    device = SimDevice(app, area="12619.01.1")
    first = [device.upsert("household", new_id(), household(device.area, str(n)))
             for n in range(3)]
    second = [device.upsert("household", new_id(), household(device.area, str(n)))
              for n in range(3, 5)]
    envelopes = [device.seal(first), device.seal(second)]
    meeting, sender, calls = threading.Barrier(2, timeout=20), ingest._sender, []

    def both_read(*args, **kwargs):
        found = sender(*args, **kwargs)
        calls.append(found)
        if len(calls) <= 2:  # each envelope's device, read before either batch is in
            meeting.wait()
        return found

    monkeypatch.setattr(ingest, "_sender", both_read)

    def send(envelope):
        with app.app_context():
            return device.send(app.test_client(), envelope)

    with ThreadPoolExecutor(2) as pool:
        bodies = list(pool.map(send, envelopes))
    assert [v["verdict"] for b in bodies for v in b["receipt"]["verdicts"]] == ["applied"] * 5
    db.session.expire_all()
    state = db.session.get(DeviceSync, device.id)
    assert (state.highest_contiguous_seq, state.max_seq, state.gaps) == (5, 5, [])
    assert max(b["receipt"]["highest_contiguous_seq"] for b in bodies) == 5


def _district_reader(app, world, stop: threading.Event, seen: list) -> None:
    cursors: dict[str, str | None] = dict.fromkeys(FEEDS)
    client = app.test_client()
    while True:
        last_round = stop.is_set()
        for feed in FEEDS:
            while True:
                params = {"limit": 7, **({"cursor": cursors[feed]} if cursors[feed] else {})}
                resp = client.get(f"/api/v1/district/{feed}", query_string=params,
                                  headers=world.headers("tinh.01"))
                assert resp.status_code == 200, resp.get_data(as_text=True)
                page = resp.get_json()
                seen += [(FEEDS[feed], i["id"], i["seq"]) for i in page["items"]]
                cursors[feed] = page["cursor"]
                if not page["more"]:
                    break
        if last_round:
            return


def _work(app, device: Recording, rounds: int, shared: dict[str, list[str]],
          lock: threading.Lock, seed: int) -> int:
    """Rounds of: new households and members, edits of the area's people (the other
    device's too), a distribution; send; pull. Returns the operations sent."""
    rnd = random.Random(seed)
    client = app.test_client()
    sent = 0
    with app.app_context():
        for _ in range(rounds):
            hh = new_id()
            device.upsert("household", hh, household(device.area, str(rnd.randint(1, 99))))
            mine = [new_id() for _ in range(rnd.randint(1, 3))]
            for person in mine:
                device.upsert("member", person, member(hh, name=unique_name()))
            with lock:
                known = list(shared.setdefault(device.area, []))
            for person in rnd.sample(known, min(len(known), 3)):
                device.upsert("member", person, {"full_name": unique_name()})
            device.distribution(distribution(device.area, hh))
            sent += len(device.outbox)
            body = device.send(client, device.seal())
            verdicts = body["receipt"]["verdicts"]
            assert all(v["verdict"] in ("applied", "conflict") for v in verdicts), body
            with lock:
                shared[device.area] += mine
            device.pull(client, limit=5)
    return sent


def test_batches_of_one_province_at_once_no_cursor_skips(postgresql_app):
    app = postgresql_app
    world = build_world(db.session)
    areas = [a for a, place in AREAS.items() if place[2] == PROVINCE]
    devices = [Recording(app, area) for area in areas] + [Recording(app, areas[0])]
    full_recompute(db.session)  # every unit's cells; the batches then add to them
    stop, seen_by_district = threading.Event(), []
    shared: dict[str, list[str]] = {}
    lock = threading.Lock()
    with ThreadPoolExecutor(len(devices) + 1) as pool:
        reader = pool.submit(_district_reader, app, world, stop, seen_by_district)
        work = [pool.submit(_work, app, d, 6, shared, lock, n) for n, d in enumerate(devices)]
        sent = [w.result() for w in work]
        stop.set()
        reader.result()
    client = app.test_client()
    for device in devices:
        device.pull(client)

    # every operation stored once
    db.session.expire_all()
    for device, count in zip(devices, sent, strict=True):
        stored = db.session.scalar(select(func.count()).select_from(SyncOp)
                                   .where(SyncOp.device_id == device.id))
        assert stored == count

    # every cursor: no row version twice, the last version of every row seen
    def final(where) -> set[tuple[str, str, int]]:
        return {(kind, row.id, row.seq) for kind, model in MODELS.items()
                for row in db.session.execute(select(model.id, model.seq).where(where(model)))}

    for device in devices:
        assert not [k for k, n in Counter(device.seen).items() if n > 1]
        missing = final(lambda m, a=device.area: m.area_code == a) - set(device.seen)
        assert not missing, f"device of {device.area} never saw {sorted(missing)[:5]}"
    assert not [k for k, n in Counter(seen_by_district).items() if n > 1]
    missing = final(lambda m: m.province_code == PROVINCE) - set(seen_by_district)
    assert not missing, f"the district cursor never saw {sorted(missing)[:5]}"

    # roll-ups: the queue is empty, and what it did equals a full recompute
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 0

    def cells() -> dict:
        return {(c.tree, c.unit_code, c.month): c.values
                for c in db.session.scalars(select(RollupCell))}

    incremental = cells()
    assert any(unit in AREAS for _, unit, _ in incremental)
    full_recompute(db.session)
    db.session.expire_all()
    assert cells() == incremental
