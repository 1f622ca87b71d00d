"""Duplicates through real batches on SQLite and PostgreSQL: detect, merge, redirect, pull, undo."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from a0core.errors import A0Error
from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.people import AuditLog
from server.models.register import Household, Member
from server.models.sync import Alias
from server.security.scope import COMMUNE, Scope
from server.sync.clock import server_clock
from server.sync.duplicates import review
from tests.support.register import counts, household, member, new_id
from tests.support.sim import SimDevice

STAFF = Scope("user:lan", COMMUNE, "12619", person_level=True)


def _candidates(kind: str | None = None) -> dict[tuple[str, str], DuplicateCandidate]:
    q = select(DuplicateCandidate)
    if kind:
        q = q.where(DuplicateCandidate.kind == kind)
    return {(c.a_id, c.b_id): c for c in db.session.scalars(q)}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _register_two_hungs(device, client):
    """Two records of one man (typed differently) and a namesake born the same year."""
    h1, h2, h3 = new_id(), new_id(), new_id()
    m1, m2, m3 = new_id(), new_id(), new_id()
    for h, n in ((h1, "1"), (h2, "2"), (h3, "3")):
        device.upsert("household", h, household(device.area, n))
    device.upsert("member", m1, member(h1, "Nguyễn Văn Hùng", "male", "1985-03-04"))
    device.upsert("member", m2, member(h2, "Hung  Nguyen Van", "male", "1985-04-03"))
    device.upsert("member", m3, member(h3, "Nguyễn Văn Hùng", "male", "1985-09-10"))
    device.send(client, device.seal())
    return (h1, h2, h3), (m1, m2, m3)


def test_detection_in_the_batch_finds_the_duplicate_not_the_namesake(app, client,
                                                                     device) -> None:
    (h1, h2, _), (m1, m2, _) = _register_two_hungs(device, client)
    members = _candidates("member")
    assert set(members) == {_pair(m1, m2)}
    c = members[_pair(m1, m2)]
    assert c.status == "open" and c.score >= 0.8 and c.commune_code == "12619"
    assert c.reasons["birth"] == "swapped_day_month" and c.reasons["order"] == "reordered"
    assert (c.reasons["family"], c.reasons["given"]) == ("unmarked", "unmarked")
    # two one-person households of the same man: the households pair up too
    assert set(_candidates("household")) == {_pair(h1, h2)}
    # an edit that makes them different people takes the pair out of the queue
    device.upsert("member", m2, {"birth_date": "1979-12-30"})
    device.send(client, device.seal())
    assert _candidates("member") == {}


def test_merge_redirects_the_old_id_and_devices_pull_the_redirect(app, client, device) -> None:
    _, (m1, m2, _) = _register_two_hungs(device, client)
    other = SimDevice(app)  # a second collaborator's device in the same area
    other.pull(client)
    c = _candidates("member")[_pair(m1, m2)]
    view = review.candidate_view(db.session, STAFF, c.id, actor="user:lan")
    db.session.commit()
    assert {view["a"]["id"], view["b"]["id"]} == {m1, m2}
    review.merge_candidate(db.session, server_clock(app), c.id, m1, scope=STAFF,
                           actor="user:lan", expected_version=view["version"])
    assert db.session.get(Member, m2).merged_into == m1
    assert db.session.get(Alias, m2).survivor_id == m1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "duplicate.merge")) == 1
    # devices learn the redirect on pull
    other.pull(client)
    assert other.replica.aliases == {m2: m1}
    assert other.replica.entities[m2]["merged_into"] == m1
    # a device that still uses the old id: its edit lands on the survivor
    other.upsert("member", m2, {"education": "college_university"})
    body = other.send(client, other.seal())
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied"
    assert db.session.get(Member, m1).data["education"] == "college_university"
    assert "education" not in db.session.get(Member, m2).data
    # undo: the loser comes back with its own data, the alias goes, devices learn it
    before = db.session.get(Member, m2).data
    review.undo_merge(db.session, server_clock(app), c.id, scope=STAFF, actor="user:lan")
    loser = db.session.get(Member, m2)
    assert loser.merged_into is None and loser.data == before
    assert db.session.get(Alias, m2).active is False
    other.pull(client)
    assert other.replica.aliases == {} and other.replica.entities[m2]["merged_into"] is None
    assert db.session.get(DuplicateCandidate, c.id).status == "undone"


def test_household_merge_moves_members_and_undo_moves_them_back(app, client, device) -> None:
    ha, hb = new_id(), new_id()
    a1, a2, b1, b2 = new_id(), new_id(), new_id(), new_id()
    device.upsert("household", ha, household(device.area, "4"))
    device.upsert("household", hb, household(device.area, "17"))
    device.upsert("member", a1, member(ha, "Trần Văn Bình", "male", "1970-02-11"))
    device.upsert("member", a2, member(ha, "Lê Thị Mai", "female", "1972-08-30"))
    device.upsert("member", b1, member(hb, "Tran Van Binh", "male", "1970-11-02"))
    device.upsert("member", b2, member(hb, "Lê Thị Mai", "female", "1972"))
    device.send(client, device.seal())
    hc = _candidates("household")[_pair(ha, hb)]
    assert hc.reasons["matched"] == 2
    other = SimDevice(app)
    other.pull(client)
    review.merge_candidate(db.session, server_clock(app), hc.id, ha, scope=STAFF,
                           actor="user:lan")
    assert {m.id for m in db.session.scalars(select(Member).where(
        Member.household_id == ha))} == {a1, a2, b1, b2}
    assert db.session.get(Household, hb).merged_into == ha
    other.pull(client)
    assert other.replica.entities[b1]["data"]["household_id"] == ha
    assert other.replica.aliases == {hb: ha}
    # the duplicated persons, now in one household, are still in the queue
    assert _pair(a1, b1) in _candidates("member")
    review.undo_merge(db.session, server_clock(app), hc.id, scope=STAFF, actor="user:lan")
    assert db.session.get(Member, b1).household_id == hb
    assert db.session.get(Household, hb).merged_into is None
    other.pull(client)
    assert other.replica.entities[b1]["data"]["household_id"] == hb
    assert other.replica.aliases == {}


def _refused(code: str, call) -> None:
    before = counts()
    queue = {(c.id, c.status) for c in db.session.scalars(select(DuplicateCandidate))}
    audits = db.session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(A0Error) as caught:
        call()
    assert caught.value.code == code
    assert counts() == before
    assert {(c.id, c.status) for c in db.session.scalars(select(DuplicateCandidate))} == queue
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audits


def test_refusals_change_nothing(app, client, device) -> None:
    _, (m1, m2, m3) = _register_two_hungs(device, client)
    clock = server_clock(app)
    c = _candidates("member")[_pair(m1, m2)]
    elsewhere = Scope("user:an", COMMUNE, "00004", person_level=True)
    no_persons = Scope("user:district", COMMUNE, "12619", person_level=False)
    _refused("duplicate_out_of_scope", lambda: review.merge_candidate(
        db.session, clock, c.id, m1, scope=elsewhere, actor="user:an"))
    _refused("forbidden", lambda: review.list_candidates(db.session, no_persons))
    _refused("duplicate_survivor_invalid", lambda: review.merge_candidate(
        db.session, clock, c.id, m3, scope=STAFF, actor="user:lan"))
    _refused("duplicate_stale", lambda: review.merge_candidate(
        db.session, clock, c.id, m1, scope=STAFF, actor="user:lan", expected_version="1.2"))
    _refused("duplicate_not_merged", lambda: review.undo_merge(
        db.session, clock, c.id, scope=STAFF, actor="user:lan"))
    _refused("not_found", lambda: review.reject_candidate(
        db.session, 999_999, scope=STAFF, actor="user:lan"))
    review.merge_candidate(db.session, clock, c.id, m1, scope=STAFF, actor="user:lan")
    _refused("duplicate_not_open", lambda: review.merge_candidate(
        db.session, clock, c.id, m1, scope=STAFF, actor="user:lan"))
    # a pair listed before the merge (a page loaded earlier): its record is merged now
    late = DuplicateCandidate(kind="member", a_id=min(m2, m3), b_id=max(m2, m3), score=0.9,
                              reasons={}, province_code="33", commune_code="12619",
                              area_code=device.area, b_area_code=device.area)
    db.session.add(late)
    db.session.commit()
    _refused("duplicate_already_merged", lambda: review.merge_candidate(
        db.session, clock, late.id, m3, scope=STAFF, actor="user:lan"))
    review.reject_candidate(db.session, late.id, scope=STAFF, actor="user:lan")
    _refused("duplicate_not_open", lambda: review.reject_candidate(
        db.session, late.id, scope=STAFF, actor="user:lan"))


def test_list_and_counts_follow_the_scope(app, client, device) -> None:
    _register_two_hungs(device, client)
    listed = review.list_candidates(db.session, STAFF, kind="member")
    assert len(listed) == 1 and "Hùng" in listed[0]["a_label"] + listed[0]["b_label"]
    elsewhere = Scope("user:an", COMMUNE, "00004", person_level=True)
    assert review.list_candidates(db.session, elsewhere) == []
    assert review.count_candidates(db.session, STAFF) == {"household": 1, "member": 1}
    assert review.count_candidates(db.session, elsewhere) == {"household": 0, "member": 0}


def test_a_merge_counts_the_person_once_in_the_rollups_at_once(app, client, device) -> None:
    from server.models.rollups import RollupCell
    from server.rollups.jobs import full_recompute

    def population() -> dict[str, int]:
        db.session.expire_all()
        return {c.month: c.values["population"] for c in db.session.scalars(
            select(RollupCell).where(RollupCell.unit_code == "12619"))}

    _, (m1, m2, _) = _register_two_hungs(device, client)
    full_recompute(db.session)
    db.session.commit()
    before = population()
    c = _candidates("member")[_pair(m1, m2)]
    review.merge_candidate(db.session, server_clock(app), c.id, m1, scope=STAFF,
                           actor="user:lan")
    merged = population()
    assert merged and all(merged[m] == before[m] - 1 for m in merged)
    full_recompute(db.session)
    db.session.commit()
    assert population() == merged  # the refresh agrees with a full recompute
    review.undo_merge(db.session, server_clock(app), c.id, scope=STAFF, actor="user:lan")
    assert population() == before


class _Crossed(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_a_merge_that_crossed_a_batch_is_made_once_more(app, client, device,
                                                        monkeypatch) -> None:
    """A merge takes the province's counter first, a batch last: writing the same person
    at the same moment, they can deadlock, and PostgreSQL cancels one. The merge is then
    made once more from the start (the reviewer sees it done); any other database error
    is not retried."""
    from sqlalchemy.exc import OperationalError

    _, (m1, m2, _) = _register_two_hungs(device, client)
    c = _candidates("member")[_pair(m1, m2)]
    version = review.candidate_view(db.session, STAFF, c.id, actor="user:lan")["version"]
    db.session.commit()
    load, calls = review._load, []

    def crossing(state: str):
        def once(session, candidate_id):
            calls.append(state)
            if len(calls) == 1:
                raise OperationalError("SELECT", {}, _Crossed(state))
            return load(session, candidate_id)
        return once

    monkeypatch.setattr(review, "_load", crossing("08006"))  # the connection lost: not ours
    with pytest.raises(OperationalError):
        review.merge_candidate(db.session, server_clock(app), c.id, m1, scope=STAFF,
                               actor="user:lan", expected_version=version)
    assert calls == ["08006"] and db.session.get(Member, m2).merged_into is None
    calls.clear()
    monkeypatch.setattr(review, "_load", crossing("40P01"))  # a deadlock: made again
    review.merge_candidate(db.session, server_clock(app), c.id, m1, scope=STAFF,
                           actor="user:lan", expected_version=version)
    assert calls == ["40P01", "40P01"]
    assert db.session.get(Member, m2).merged_into == m1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "duplicate.merge")) == 1
