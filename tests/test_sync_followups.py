"""The work after a batch (roll-ups, duplicate detection) is done exactly once, after
the commit, even when it fails or runs in a thread of its own (issue 19)."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.register import Member
from server.models.rollups import RollupCell
from server.models.sync import FollowUp
from server.rollups.jobs import QUEUE, full_recompute
from server.sync.followups import MAX_ATTEMPTS, THREAD, FollowUps, backlog, retry_failed
from server.sync.runtime import followups_for
from tests.support.register import birth, distribution, household, member, new_id
from tests.support.sim import SimDevice


def _cells() -> dict:
    return {(c.tree, c.unit_code, c.month): c.values
            for c in db.session.scalars(select(RollupCell))}


def _batch(app, device: SimDevice, name: str = "Nguyễn Văn Hùng") -> None:
    hh = new_id()
    device.upsert("household", hh, household(device.area, "7"))
    device.upsert("member", new_id(), member(hh, name, "male", "1985-03-04"))
    device.distribution(distribution(device.area, hh))
    body = device.send(app.test_client(), device.seal())
    assert all(v["verdict"] == "applied" for v in body["receipt"]["verdicts"]), body


def test_failed_work_stays_queued_is_retried_and_done_once(app):
    device = SimDevice(app, area="12619.01.1")
    full_recompute(db.session)
    queue = followups_for(app)
    real = queue.handlers[QUEUE]

    def broken(session, rows):
        raise RuntimeError("roll-ups broke")

    queue.handle(QUEUE, broken)
    try:
        _batch(app, device)
        _batch(app, device, "Trần Văn Nam")
        for _ in range(MAX_ATTEMPTS):  # each batch's row fails on its own, then is set aside
            queue.drain(db.engine)
    finally:
        queue.handle(QUEUE, real)
    db.session.expire_all()
    assert backlog(db.session)[QUEUE] == {"queued": 0, "failed": 2}
    assert db.session.scalar(select(FollowUp.last_error).limit(1)).startswith("RuntimeError")
    before = _cells()
    assert queue.drain(db.engine)[QUEUE] == 0  # set aside: not retried by itself
    assert retry_failed(db.session) == 2
    db.session.commit()
    assert queue.drain(db.engine)[QUEUE] == 2
    db.session.expire_all()
    assert QUEUE not in backlog(db.session)
    after = _cells()
    assert after != before  # the two batches are counted now
    full_recompute(db.session)
    db.session.expire_all()
    assert _cells() == after  # and counted once


def test_a_thread_does_the_work_after_the_device_has_its_receipt(app):
    device = SimDevice(app, area="12619.02.1")
    full_recompute(db.session)
    queue = followups_for(app)
    queue.mode, queue.delay_s = THREAD, 0.3  # as under a0sync serve
    try:
        _batch(app, device)
        _batch(app, device, "Nguyen Van Hung")  # a duplicate of the first person
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(FollowUp)) > 0  # not yet
        deadline = time.monotonic() + 30
        while db.session.scalar(select(func.count()).select_from(FollowUp)) and \
                time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.1)
    finally:
        queue.stop()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 0
    pairs = db.session.scalars(select(DuplicateCandidate.kind)).all()
    assert pairs.count("member") == 1  # found once, by the thread
    after = _cells()
    full_recompute(db.session)
    db.session.expire_all()
    assert _cells() == after


def _probe(app, delay_s: float, max_delay_s: float, sending_s: float) -> tuple[list, float]:
    """Commit a queued row every 50 ms for ``sending_s`` with a thread draining a probe
    kind: the times (since the first commit) of the drains, and when sending ended."""
    queue = FollowUps(THREAD, delay_s=delay_s, max_delay_s=max_delay_s)
    drains: list[float] = []
    queue.handle("probe", lambda session, rows: drains.append(time.monotonic()))
    engine = db.engine
    start = time.monotonic()
    try:
        while time.monotonic() - start < sending_s:
            with Session(engine) as session:
                queue.enqueue(session, "probe", {}, province_code="33", commune_code="12619")
                session.commit()
            time.sleep(0.05)
        ended = time.monotonic() - start
        deadline = time.monotonic() + 30
        while db.session.scalar(select(func.count()).select_from(FollowUp)) and \
                time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.05)
    finally:
        queue.stop()
    return [d - start for d in drains], ended


def test_the_thread_waits_until_batches_stop_coming(app):
    """While batches keep committing (a month start) the work waits for them, and one
    drain then does it all: the processor time goes to the devices."""
    drains, ended = _probe(app, delay_s=1.0, max_delay_s=60, sending_s=2.5)
    assert drains and drains[0] >= ended  # none while they came (2.5 s > delay_s)
    assert len(drains) == 1  # all of them at once


def test_the_thread_never_waits_longer_than_its_longest_delay(app):
    """A stream that never stops does not hold the work back for ever."""
    drains, ended = _probe(app, delay_s=1.0, max_delay_s=1.5, sending_s=5)
    assert drains and drains[0] < ended and len(drains) >= 2


def test_stock_work_is_queued_only_for_an_area_that_keeps_stock(app):
    """The stock hook lets the database decide, as it writes the queue row, whether the
    batch's area has any stock movement (no look-up of its own on the batch's way)."""
    from server.logistics.hook import QUEUE as STOCK

    device = SimDevice(app, area="12619.01.1")
    other = SimDevice(app, area="12619.01.2")
    queue = followups_for(app)
    real, seen = queue.handlers[STOCK], []
    queue.handle(STOCK, lambda session, rows: seen.extend(r.payload["synced"] for r in rows))
    try:
        _batch(app, device)
        assert seen == []  # no stock kept in the area: nothing queued
        device.stock("stock_adjustment", {"id": new_id(), "area_code": device.area,
                                          "method": "condom", "counted_on": "2025-03-09",
                                          "book_balance": 0, "counted": 40,
                                          "reason": "physical_count"})
        device.send(app.test_client(), device.seal())
        _batch(app, device, "Trần Văn Nam")
        _batch(app, other, "Lê Văn Tám")
    finally:
        queue.handle(STOCK, real)
    # the batch with the movement and the next one of that area; none of the other area
    assert seen == [[device.area], [device.area]]


def test_a_refold_after_the_batch_queues_no_stock_work(app):
    """A person refolded after the batch changes figures the roll-ups count, never a
    stock: the refold hands its months to the hooks again, and the stock hook, which
    does not read months, queues nothing for them (before: a row per refold, drained
    under the roll-ups' lock to do nothing)."""
    from server.logistics.hook import QUEUE as STOCK

    device, client = SimDevice(app, area="12619.01.1"), app.test_client()
    device.stock("stock_adjustment", {"id": new_id(), "area_code": device.area,
                                      "method": "condom", "counted_on": "2025-03-09",
                                      "book_balance": 0, "counted": 40,
                                      "reason": "physical_count"})
    hh, mum = new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mum, member(hh))
    device.upsert("woman_status", mum, {"recorded_on": "2025-01-01", "current_method": "iud",
                                        "method_start": "2020-01-01", "living_children": 1})
    device.send(client, device.seal())
    queue = followups_for(app)
    real, seen = queue.handlers[STOCK], []
    queue.handle(STOCK, lambda session, rows: seen.extend(r.payload for r in rows))
    try:
        device.event("birth", birth(hh, mum, day="2025-06-01"))
        body = device.send(client, device.seal())
    finally:
        queue.handle(STOCK, real)
    assert {v["verdict"] for v in body["receipt"]["verdicts"]} == {"applied"}
    db.session.expire_all()
    assert db.session.get(Member, mum).living_children == 2  # the refold was done
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 0
    assert [p["synced"] for p in seen] == [[device.area]]  # the batch's own, no other
