"""What a batch read changing while it merges (PostgreSQL, issue 19).

A batch merges without any province-wide lock, its writes sent along with its next
look-up (:mod:`server.models.pipeline`), and checks under the province's counter
that what it read still holds. Another session changes things while the batch is
inside its merge:

* its device revoked: the batch is refused and leaves nothing;
* its device's area carried to another commune: the batch is made again there;
* a household it updates written meanwhile: its guarded update writes nothing, and
  the batch starts again from the household as it is now — both edits kept.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.extensions import db
from server.models.people import Device
from server.models.register import Household
from server.models.sync import SyncOp
from server.sync import ingest
from tests.support.register import household, new_id
from tests.support.sim import SimDevice


def _meanwhile(monkeypatch, change, table=Device) -> list[int]:
    """Run ``change`` (values for every row of ``table``) from another session, once,
    while the batch is inside its merge (after its look-ups); returns how many merges
    there were."""
    merges: list[int] = []
    merge = ingest._prefetch_survivors  # the batch's look-ups answered

    def inside(ws):
        merge(ws)
        merges.append(1)
        if len(merges) == 1:
            with Session(db.engine) as other:
                other.execute(update(table).values(**change))
                other.commit()

    monkeypatch.setattr(ingest, "_prefetch_survivors", inside)
    return merges


def test_a_device_revoked_during_its_batch_stores_nothing(postgresql_app, monkeypatch):
    app = postgresql_app
    device = SimDevice(app)
    device.upsert("household", new_id(), household(device.area))
    _meanwhile(monkeypatch, {"revoked_at": dt.datetime.now(dt.UTC)})
    body = device.send(app.test_client(), device.seal())
    assert body["error"]["code"] == "device_revoked", body
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SyncOp)) == 0
    assert db.session.scalar(select(func.count()).select_from(Household)) == 0


def test_a_device_moved_during_its_batch_is_merged_again_where_it_is(postgresql_app,
                                                                     monkeypatch):
    app = postgresql_app
    device = SimDevice(app)
    device.upsert("household", new_id(), household(device.area))
    merges = _meanwhile(monkeypatch, {"commune_code": "12620"})
    body = device.send(app.test_client(), device.seal())
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied", body
    assert len(merges) >= 2  # made again, as the device is now
    db.session.rollback()
    assert db.session.scalars(select(SyncOp.commune_code)).all() == ["12620"]


def test_a_household_written_during_a_batch_makes_it_start_again(postgresql_app,
                                                                 monkeypatch):
    app = postgresql_app
    device = SimDevice(app)
    household_id = new_id()
    device.upsert("household", household_id, household(device.area))
    device.send(app.test_client(), device.seal())
    device.upsert("household", household_id, {"address": "Thôn Tây"})
    # as a review would: a new change number (and a new value) on the row the batch read
    merges = _meanwhile(monkeypatch, {"seq": Household.seq + 1000}, table=Household)
    body = device.send(app.test_client(), device.seal())
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied", body
    assert len(merges) == 2  # the guarded update wrote nothing: made again
    db.session.rollback()
    assert db.session.scalars(select(Household.address)).all() == ["Thôn Tây"]


def test_a_household_read_and_not_written_meanwhile_makes_it_start_again(
        postgresql_app, monkeypatch):
    """A person joining a household reads the household and does not write it: the
    batch's last round trip (its change numbers, this check and its COMMIT at once)
    fails in the database when the household changed meanwhile, and the batch starts
    again, committing nothing the first time."""
    from server.models.register import Member
    from server.models.sync import SyncBatch
    from tests.support.register import member

    app = postgresql_app
    device = SimDevice(app)
    household_id, member_id = new_id(), new_id()
    device.upsert("household", household_id, household(device.area))
    device.send(app.test_client(), device.seal())
    device.upsert("member", member_id, member(household_id))
    committed: list[int] = []
    real = ingest.commit

    def counted(session):
        done = real(session)
        committed.append(done)
        return done

    monkeypatch.setattr(ingest, "commit", counted)
    merges = _meanwhile(monkeypatch, {"seq": Household.seq + 1000}, table=Household)
    before = db.session.scalar(select(Household.seq))
    body = device.send(app.test_client(), device.seal())
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied", body
    assert len(merges) == 2 and committed == [True]  # the first attempt never committed
    db.session.rollback()
    assert db.session.scalar(select(Household.seq)) == before + 1000  # not written
    assert db.session.scalar(select(func.count()).select_from(Member)) == 1
    assert db.session.scalar(select(func.count()).select_from(SyncBatch)) == 2
