"""Ingestion: exactly once, any order, waiting, gaps, merge and conflicts, pull."""

from __future__ import annotations

from sqlalchemy import select

from a0core.envelope import verify_receipt
from server.extensions import db
from server.models.register import Event, Household, Member
from server.models.sync import Conflict, DeviceSync, SyncBatch, SyncOp
from tests.support.register import (
    birth,
    counts,
    distribution,
    household,
    member,
    new_id,
)
from tests.support.sim import SimDevice


def verdicts(body) -> list[str]:
    return [v["verdict"] for v in body["receipt"]["verdicts"]]


def test_batch_applies_and_receipt_is_signed(app, client, device) -> None:
    hh, mum = new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mum, member(hh))
    device.upsert("woman_status", mum, {"recorded_on": "2025-01-01", "current_method": "iud",
                                        "method_start": "2020-01-01", "living_children": 1})
    b = birth(hh, mum)
    device.event("birth", b)
    device.distribution(distribution(device.area, hh))
    body = device.send(client, device.seal())
    assert verdicts(body) == ["applied"] * 5
    verify_receipt(body, device.server_key)
    assert body["receipt"]["highest_contiguous_seq"] == 5
    mother = db.session.get(Member, mum)
    assert mother.living_children == 2 and mother.current_method == "iud"
    child = db.session.get(Member, b["child_id"])
    assert child.household_id == hh and child.mother_id == mum and child.birth_date == b[
        "event_date"]
    assert child.commune_code == "12619" and child.province_code == "33"


def test_a_child_born_and_dying_in_one_batch_counts_against_the_mother(client, device) -> None:
    """The child's death is read with the batch's own events (the child's row is not
    written yet when the mother is refolded): the same state as with the death sent in a
    later batch."""
    hh, mum = new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mum, member(hh))
    device.upsert("woman_status", mum, {"recorded_on": "2025-01-01", "current_method": "iud",
                                        "method_start": "2020-01-01", "living_children": 1})
    assert verdicts(device.send(client, device.seal())) == ["applied"] * 3
    together, apart = birth(hh, mum), birth(hh, mum)
    for b in (together, apart):
        device.event("birth", b)
    device.event("death", {"id": new_id(), "household_id": hh,
                           "member_id": together["child_id"], "event_date": "2025-09-02"})
    assert verdicts(device.send(client, device.seal())) == ["applied"] * 3
    db.session.expire_all()
    assert db.session.get(Member, mum).living_children == 2  # 1 + 2 born - 1 died
    device.event("death", {"id": new_id(), "household_id": hh,
                           "member_id": apart["child_id"], "event_date": "2025-09-03"})
    assert verdicts(device.send(client, device.seal())) == ["applied"]
    db.session.expire_all()
    assert db.session.get(Member, mum).living_children == 1
    assert db.session.get(Member, together["child_id"]).residence_status == "deceased"


def test_resending_a_batch_changes_nothing_and_returns_the_same_receipt(client, device) -> None:
    hh = new_id()
    ops = [device.upsert("household", hh, household(device.area))]
    envelope = device.seal()
    first = device.send(client, envelope)
    before = counts()
    again = client.post("/api/v1/sync/batches", data=envelope).get_json()
    assert again == first
    assert counts() == before
    # re-sealed (fresh ephemeral key) under the same batch id and content: same receipt
    resealed = device.seal(ops, batch_id=first["receipt"]["batch"])
    assert resealed != envelope
    assert client.post("/api/v1/sync/batches", data=resealed).get_json() == first
    # the same id with other content is refused, and changes nothing
    other = device.seal([device.upsert("household", hh, {"number": "2"})],
                        batch_id=first["receipt"]["batch"])
    resp = client.post("/api/v1/sync/batches", data=other)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "batch_id_reused"
    assert counts() == before


def test_overlapping_batch_reports_duplicates_and_applies_the_rest(client, device) -> None:
    hh = new_id()
    ops = [device.upsert("household", hh, household(device.area)),
           device.upsert("household", hh, {"address": "Xóm 3"})]
    device.send(client, device.seal(ops[:1]))
    ops.append(device.upsert("household", hh, {"number": "7"}))
    body = device.send(client, device.seal(ops))
    assert verdicts(body) == ["duplicate", "applied", "applied"]
    row = db.session.get(Household, hh)
    assert (row.address, row.number) == ("Xóm 3", "7")
    assert db.session.scalar(select(SyncOp.op_hash).where(SyncOp.seq == 1)) == ops[0]["hash"]


def test_same_operation_id_with_other_content_is_refused(client, device) -> None:
    hh = new_id()
    op = device.upsert("household", hh, household(device.area))
    device.send(client, device.seal([op]))
    from a0core.sync_client import make_op

    forged = make_op(1, op["hlc"], "upsert", "household", 1, hh,
                     {**household(device.area), "number": "99"})
    before = counts()
    body = device.send(client, device.seal([forged]))
    assert body["receipt"]["verdicts"][0]["code"] == "op_hash_mismatch"
    assert db.session.get(Household, hh).number == "1"
    assert {k: v for k, v in counts().items() if k != "sync_batch"} == \
        {k: v for k, v in before.items() if k != "sync_batch"}


def test_member_waits_for_its_household_and_is_released(client, device) -> None:
    hh, mum = new_id(), new_id()
    h_op = device.upsert("household", hh, household(device.area))
    m_op = device.upsert("member", mum, member(hh))
    # the member's batch (seq 2) arrives first, carried by hand
    body = device.send(client, device.seal([m_op]))
    assert body["receipt"]["verdicts"] == [{"seq": 2, "verdict": "waiting", "waiting_on": hh}]
    assert db.session.get(Member, mum) is None
    state = db.session.get(DeviceSync, device.id)
    assert (state.highest_contiguous_seq, state.gaps) == (0, [[1, 1]])
    body = device.send(client, device.seal([h_op]))
    assert verdicts(body) == ["applied"]
    assert body["receipt"]["highest_contiguous_seq"] == 2
    assert db.session.get(Member, mum).full_name == "Trần Thị Lan"
    assert db.session.get(DeviceSync, device.id).gaps == []
    row = db.session.get(SyncOp, (device.id, 2))
    assert row.status == "applied" and row.change_seq > 0


def test_gap_is_recorded_until_the_missing_operations_arrive(client, device) -> None:
    hh = new_id()
    ops = [device.upsert("household", hh, household(device.area, str(n))) if n == 1 else
           device.upsert("household", hh, {"number": str(n)}) for n in range(1, 7)]
    device.send(client, device.seal(ops[4:]))
    state = db.session.get(DeviceSync, device.id)
    assert (state.highest_contiguous_seq, state.gaps, state.max_seq) == (0, [[1, 4]], 6)
    device.send(client, device.seal(ops[:2]))
    assert db.session.get(DeviceSync, device.id).gaps == [[3, 4]]
    device.send(client, device.seal(ops[2:4]))
    state = db.session.get(DeviceSync, device.id)
    assert (state.highest_contiguous_seq, state.gaps) == (6, [])
    # the last write by stamp wins, not the last to arrive
    assert db.session.get(Household, hh).number == "6"


def _names_crossed(client, a: SimDevice, b: SimDevice) -> tuple[str, dict, dict]:
    """Two devices rename one woman from the same value; ``b`` sends first. Returns her
    id and the answers to ``a`` and ``b``."""
    hh, mum = new_id(), new_id()
    a.upsert("household", hh, household(a.area))
    a.upsert("member", mum, member(hh))
    a.send(client, a.seal())
    b.pull(client)
    a.upsert("member", mum, {"full_name": "Trần Thị Lan Anh"})
    b.upsert("member", mum, {"full_name": "Trần Thị Lanh"})
    body_b = b.send(client, b.seal())
    return mum, a.send(client, a.seal()), body_b


def test_concurrent_edits_make_one_conflict_and_a_resolution_flows_back(app, client) -> None:
    a, b = SimDevice(app), SimDevice(app)
    mum, body_a, body_b = _names_crossed(client, a, b)
    assert verdicts(body_b) == ["applied"]
    assert verdicts(body_a) == ["conflict"]
    conflict = db.session.scalars(select(Conflict)).one()
    assert body_a["receipt"]["verdicts"][0]["conflicts"] == [{"id": conflict.id,
                                                               "field": "full_name"}]
    assert {conflict.a_value, conflict.b_value} == {"Trần Thị Lan Anh", "Trần Thị Lanh"}
    assert db.session.get(Member, mum).full_name == conflict.b_value  # greater stamp wins
    assert conflict.status == "open"
    # recorded at the moment its batch arrived (the ingestion context's clock)
    batch = db.session.get(SyncBatch, body_a["receipt"]["batch"])
    assert conflict.created_at.replace(tzinfo=None) == batch.received_at.replace(tzinfo=None)

    from server.sync.review import resolve_conflict
    from server.sync.runtime import ingest_context

    resolve_conflict(db.session, ingest_context(app), conflict.id, "Trần Thị Lan Anh",
                     reviewer="user:commune-1")
    db.session.commit()
    assert db.session.get(Member, mum).full_name == "Trần Thị Lan Anh"
    assert db.session.get(Conflict, conflict.id).status == "resolved"
    for dev in (a, b):
        dev.pull(client)
        assert dev.replica.entities[mum]["data"]["full_name"] == "Trần Thị Lan Anh"



def test_an_edit_that_saw_both_sides_closes_the_conflict(app, client) -> None:
    """A collaborator who pulled the winner of a conflict and edits the field again has
    seen both values: the conflict is closed (superseded), with the value chosen."""
    a, b = SimDevice(app), SimDevice(app)
    mum, body_a, _ = _names_crossed(client, a, b)
    assert verdicts(body_a) == ["conflict"]
    conflict_id = db.session.scalars(select(Conflict.id)).one()
    db.session.rollback()
    b.pull(client)  # the winner, whichever it is
    b.upsert("member", mum, {"full_name": "Trần Thị Lan"})
    b.upsert("member", mum, {"ethnicity": "tay"})  # another field: no conflict of its own
    assert verdicts(b.send(client, b.seal())) == ["applied", "applied"]
    db.session.expire_all()
    conflict = db.session.get(Conflict, conflict_id)
    assert (conflict.status, conflict.resolved_value) == ("superseded", "Trần Thị Lan")
    assert db.session.get(Member, mum).full_name == "Trần Thị Lan"

def test_sequential_edits_are_not_conflicts(app, client) -> None:
    a, b = SimDevice(app), SimDevice(app)
    hh = new_id()
    a.upsert("household", hh, household(a.area))
    a.send(client, a.seal())
    b.pull(client)
    b.upsert("household", hh, {"address": "Xóm 9"})
    b.send(client, b.seal())
    a.pull(client)
    a.upsert("household", hh, {"address": "Xóm 10"})
    assert verdicts(a.send(client, a.seal())) == ["applied"]
    assert db.session.scalars(select(Conflict)).all() == []


def test_void_refolds_the_register(client, device) -> None:
    hh, mum = new_id(), new_id()
    device.upsert("household", hh, household(device.area))
    device.upsert("member", mum, member(hh))
    b = birth(hh, mum)
    device.event("birth", b)
    device.event("death", {"id": new_id(), "household_id": hh, "member_id": mum,
                           "event_date": "2025-09-01"})
    device.send(client, device.seal())
    assert db.session.get(Member, mum).residence_status == "deceased"
    death_id = next(o for o in device.replica.facts if o != b["id"])
    device.void("event", death_id)
    device.void("event", b["id"])
    assert verdicts(device.send(client, device.seal())) == ["applied", "applied"]
    db.session.expire_all()
    assert db.session.get(Member, mum).residence_status == "present"
    assert db.session.get(Event, b["id"]).voided
    assert db.session.get(Member, b["child_id"]).deleted  # a voided birth takes its child back


def test_void_before_its_event_waits(client, device) -> None:
    hh, mum = new_id(), new_id()
    ops = [device.upsert("household", hh, household(device.area)),
           device.upsert("member", mum, member(hh))]
    b = birth(hh, mum)
    ops.append(device.event("birth", b))
    ops.append(device.void("event", b["id"]))
    assert verdicts(device.send(client, device.seal(ops[3:]))) == ["waiting"]
    assert verdicts(device.send(client, device.seal(ops[:3]))) == ["applied"] * 3
    assert db.session.get(Event, b["id"]).voided
    assert db.session.get(Member, mum).living_children is None


def test_pull_pages_a_first_download_and_resumes(app, client) -> None:
    a = SimDevice(app)
    households = [new_id() for _ in range(30)]
    for n, hh in enumerate(households):
        a.upsert("household", hh, household(a.area, str(n + 1)))
        a.upsert("member", new_id(), member(hh))
    a.send(client, a.seal())
    fresh = SimDevice(app)
    assert fresh.pull(client, limit=7) == 9  # 60 rows in pages of 7
    assert set(fresh.replica.entities) == set(a.replica.entities)
    before = fresh.cursor
    assert fresh.pull(client, limit=7) == 1 and fresh.cursor == before  # nothing new
    other = SimDevice(app, area="12619.02.1")
    other.pull(client)
    assert other.replica.entities == {}  # another area sees nothing of this one
