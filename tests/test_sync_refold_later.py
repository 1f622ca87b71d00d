"""Persons refolded after their batch's commit (issue 19, ``server.sync.refold``).

A batch leaves the refold of the persons its events are about to the follow-up work,
except the household a person lives in (a household change is refolded with the
batch). Whatever the batches and whenever the follow-up work runs, once it has run
every person's row is the fold of what is stored, and the roll-ups count it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from a0core.hlc import HybridClock
from server.extensions import db
from server.models.register import Member
from server.models.rollups import RollupCell
from server.models.sync import FollowUp
from server.register.bulk import Writer, load_area
from server.rollups.jobs import full_recompute
from server.sync import refold
from server.sync.followups import THREAD, FollowUps
from server.sync.runtime import followups_for
from server.synthetic import generate_area
from server.synthetic.operations import change_operations, register_at
from tests.conftest import make_app
from tests.support.register import birth, household, member, new_id
from tests.support.sim import SimDevice

AREA, VILLAGE, START = "12619.01.1", "12619.01", "2024-10-01"
PERIOD = (dt.date(2024, 9, 1), dt.date(2025, 8, 31))


@contextmanager
def held(queue: FollowUps) -> Iterator[None]:
    """The follow-up work waits (as under ``a0sync serve`` while devices send) until
    the test drains it."""
    queue.mode, queue.delay_s, queue.max_delay_s, queue.poll_s = THREAD, 3600, 3600, 3600
    try:
        yield
    finally:
        queue.stop()


def _cells() -> dict:
    return {(c.tree, c.unit_code, c.month): c.values
            for c in db.session.scalars(select(RollupCell))}


def _applied(body: dict) -> None:
    verdicts = body["receipt"]["verdicts"]
    assert {v["verdict"] for v in verdicts} == {"applied"}, verdicts


def test_a_person_is_refolded_after_the_commit_and_the_rollups_follow(app):
    device, client = SimDevice(app), app.test_client()
    hh, other, mum = new_id(), new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("household", other, household(device.area, "2"))
    device.upsert("member", mum, member(hh))
    device.upsert("woman_status", mum, {"recorded_on": "2025-01-01", "current_method": "iud",
                                        "method_start": "2020-01-01", "living_children": 1})
    _applied(device.send(client, device.seal()))
    full_recompute(db.session)
    queue = followups_for(app)
    seq = db.session.get(Member, mum).seq
    with held(queue):
        device.event("birth", birth(hh, mum, day="2025-06-01"))
        _applied(device.send(client, device.seal()))
        db.session.expire_all()
        mother = db.session.get(Member, mum)
        assert (mother.living_children, mother.seq) == (1, seq)  # not yet: after the commit
        queued = db.session.scalars(select(FollowUp.payload).where(
            FollowUp.kind == refold.QUEUE)).all()
        assert [q["members"] for q in queued] == [[mum]]
        # a household change is refolded with its batch: a deletion reads who lives where
        device.event("household_change", {"id": new_id(), "household_id": hh,
                                          "member_id": mum, "event_date": "2025-07-01",
                                          "to_household_id": other, "reason": "join"})
        _applied(device.send(client, device.seal()))
        db.session.expire_all()
        assert db.session.get(Member, mum).household_id == other
        assert queue.drain(db.engine)[refold.QUEUE] == 1
    db.session.expire_all()
    mother = db.session.get(Member, mum)
    assert mother.living_children == 2 and mother.seq > seq  # pulled again by the devices
    assert not refold.refold(db.session, {mum})  # the row is the fold of what is stored
    after = _cells()
    full_recompute(db.session)
    db.session.expire_all()
    assert _cells() == after  # the roll-ups counted the refolded state


@settings(max_examples=3, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=6),
       drains=st.lists(st.booleans(), min_size=7, max_size=7))
def test_whenever_the_work_runs_every_person_ends_as_the_fold_of_what_is_stored(
        sqlite_template, tmp_path_factory, cuts, drains):
    """A year of a village's change slips (births, deaths, moves, methods, household
    changes), cut into batches anywhere, the follow-up work run after any of them."""
    folder = tmp_path_factory.mktemp("refold")
    shutil.copy(sqlite_template, folder / "db.sqlite")
    app = make_app(f"sqlite:///{folder / 'db.sqlite'}", folder / "instance")
    with app.app_context():
        area = generate_area(11, AREA, VILLAGE, "Xã Diên Hà", 40, PERIOD)
        writer = Writer("loader", HybridClock().now())
        load_area(db.session, register_at(area, START), "33", "12619", writer)
        db.session.commit()
        full_recompute(db.session)
        device = SimDevice(app, area=AREA)
        ops = list(change_operations(area, START, device.clock, device.id,
                                     (writer.hlc, writer.device)))
        bounds = sorted({0, len(ops), *(c for c in cuts if c < len(ops))})
        queue = followups_for(app)
        refolded = 0
        with held(queue):
            for n, (start, end) in enumerate(itertools.pairwise(bounds)):
                _applied(device.send(app.test_client(), device.seal(ops[start:end])))
                if drains[n % len(drains)]:
                    refolded += queue.drain(db.engine)[refold.QUEUE]
            refolded += queue.drain(db.engine)[refold.QUEUE]
        assert len(ops) > 50 and refolded >= 1  # persons were refolded after their batch
        db.session.expire_all()
        assert not db.session.scalars(select(FollowUp.kind)).all()
        everyone = set(db.session.scalars(select(Member.id)))
        assert not refold.refold(db.session, everyone)  # nothing left to refold
        db.session.rollback()
        after = _cells()
        full_recompute(db.session)
        db.session.expire_all()
        assert _cells() == after
        db.session.remove()
        db.engine.dispose()
