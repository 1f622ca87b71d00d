"""A batch writes each register row once, with its final change number (PostgreSQL,
issue 19).

The rows wait for the batch's settle step and take their numbers there, in the same
round trip; before, they were written with provisional numbers and renumbered by it,
every row a second time (a new version of the row and of each of its indexes).
"""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from server.extensions import db
from server.models.register import ChangeCounter, Event, Household, Member
from server.sync import refold
from server.sync.runtime import followups_for
from server.sync.workset import Workset
from tests.support.register import birth, distribution, household, member, new_id
from tests.support.sim import SimDevice

TABLES = ("household", "member", "event", "distribution")


def _log_writes() -> None:
    """Every row written to the register's tables from now on, one line per write."""
    db.session.execute(text("CREATE TABLE write_log (tbl text, id text, seq bigint)"))
    db.session.execute(text("""CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql
        AS $$ BEGIN INSERT INTO write_log VALUES (TG_TABLE_NAME, NEW.id, NEW.seq);
        RETURN NEW; END $$"""))
    for table in TABLES:
        db.session.execute(text(f"""CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION log_write()"""))
    db.session.commit()


def _a_mother_stored(app) -> tuple[SimDevice, str, str]:
    """A device, and a household with a woman in it, stored and refolded."""
    device = SimDevice(app)
    hh, mum = new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mum, member(hh))
    assert device.send(app.test_client(), device.seal())["receipt"]
    followups_for(app).drain(db.engine)
    return device, hh, mum


def test_a_batch_writes_each_row_once_with_its_final_number(postgresql_app):
    app = postgresql_app
    device, hh, mum = _a_mother_stored(app)
    before = db.session.scalar(select(ChangeCounter.value))
    _log_writes()

    other, child = new_id(), birth(hh, mum)
    device.upsert("household", hh, {"address": "Thôn Tây"})  # a row stored: an update
    device.upsert("household", other, household(device.area, "2"))
    device.upsert("member", new_id(), member(other, "Lê Văn Tám", "male"))
    device.upsert("woman_status", mum, {"recorded_on": "2025-01-01",
                                        "current_method": "iud",
                                        "method_start": "2020-01-01", "living_children": 1})
    device.event("birth", child)
    device.distribution(distribution(device.area, other))
    body = device.send(app.test_client(), device.seal())
    assert {v["verdict"] for v in body["receipt"]["verdicts"]} == {"applied"}, body

    db.session.rollback()
    writes = db.session.execute(text("SELECT tbl, id, seq FROM write_log")).all()
    by_row: dict[tuple[str, str], list[int]] = {}
    for table, row_id, seq in writes:
        by_row.setdefault((table, row_id), []).append(seq)
    # the household edited, the one added, its member, the mother, the child, the birth,
    # the hand-out: each written once
    assert {key: len(seqs) for key, seqs in by_row.items()} == dict.fromkeys(by_row, 1)
    assert {table for table, _ in by_row} == set(TABLES)
    assert len(by_row) == 7
    after = db.session.scalar(select(ChangeCounter.value))
    numbers = sorted(seqs[0] for seqs in by_row.values())
    assert len(set(numbers)) == len(numbers)
    assert before < numbers[0] and numbers[-1] <= after  # the numbers the batch took
    stored = {(t, i): s for model, t in ((Household, "household"), (Member, "member"),
                                         (Event, "event"))
              for i, s in db.session.execute(select(model.id, model.seq))}
    assert all(stored[key] == seqs[0] for key, seqs in by_row.items() if key in stored)


def test_the_persons_a_batch_refolds_are_the_fold_of_what_it_stored(postgresql_app):
    """Refolded with the batch from the events stored and the batch's own (not written
    yet when they are read): the same as a refold from the database afterwards."""
    app = postgresql_app
    device = SimDevice(app)
    hh, mum, dad = new_id(), new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mum, member(hh))
    device.upsert("member", dad, member(hh, "Lê Văn Tám", "male"))
    first = birth(hh, mum)
    device.event("birth", first)
    assert device.send(app.test_client(), device.seal())["receipt"]
    # the mother edited (refolded with the batch) while her stored birth is voided, a
    # second child born and dying in the same batch, the father moving house
    device.upsert("member", mum, {"full_name": "Trần Thị Lan Anh"})
    device.void("event", first["id"])
    second = birth(hh, mum, day="2025-07-01")
    device.event("birth", second)
    device.event("death", {"id": new_id(), "household_id": hh,
                           "member_id": second["child_id"], "event_date": "2025-09-02"})
    other = new_id()
    device.upsert("household", other, household(device.area, "2"))
    device.event("household_change", {"id": new_id(), "household_id": hh,
                                      "member_id": dad, "event_date": "2025-08-01",
                                      "to_household_id": other, "reason": "join"})
    body = device.send(app.test_client(), device.seal())
    assert {v["verdict"] for v in body["receipt"]["verdicts"]} == {"applied"}, body
    followups_for(app).drain(db.engine)
    db.session.expire_all()
    assert db.session.get(Member, dad).household_id == other
    assert db.session.get(Member, mum).living_children == 0  # one voided, one died
    everyone = set(db.session.scalars(select(Member.id)))
    assert not refold.refold(db.session, everyone)  # nothing differs from the fold
    db.session.rollback()
    assert db.session.scalar(select(func.min(Member.seq))) > 0


def test_a_refold_whose_row_changed_meanwhile_starts_again(postgresql_app, monkeypatch):
    """The follow-up refold writes its rows after the counter too: a row written by
    another session since the refold read it fails the check in the database, and the
    refold starts again from the row as it is now."""
    app = postgresql_app
    device, _, mum = _a_mother_stored(app)
    db.session.execute(update(Member).where(Member.id == mum).values(living_children=9))
    db.session.commit()  # a row that is not the fold of what is stored
    attempts: list[int] = []
    fold = Workset._refold

    def meanwhile(ws: Workset, changed_only: bool = False) -> None:
        fold(ws, changed_only)
        attempts.append(1)
        if len(attempts) == 1:  # as a review would: a new number on the row read
            with Session(db.engine) as other:
                other.execute(update(Member).where(Member.id == mum)
                              .values(seq=Member.seq + 1000))
                other.commit()

    monkeypatch.setattr(Workset, "_refold", meanwhile)
    assert refold.refold(db.session, {mum}) == {device.area}
    db.session.commit()
    assert len(attempts) == 2
    db.session.expire_all()
    assert db.session.get(Member, mum).living_children != 9
    assert not refold.refold(db.session, {mum})
