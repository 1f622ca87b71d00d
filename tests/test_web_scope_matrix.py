"""Who reaches what on the dashboard: role × page or action × org unit (DESIGN §6).

Staff of every role, each bound to a real unit of the 2025-03 list, against rows in
their own commune, another commune of the same district, another district of the
same province and another province. Reads outside the scope look like absent rows
(404) and lists never show them; actions a role may not take anywhere are 403;
every refused request changes nothing.
"""

from __future__ import annotations

import io
import re

from flask import Flask
from sqlalchemy import func, select

from server.extensions import db
from server.models.people import Collaborator, Device, EnrolmentCode
from server.models.sync import Conflict, SyncBatch, SyncOp
from tests.support.register import household, new_id
from tests.support.web import Browser, build_world

TARGETS = ("C", "same district", "same province", "other province")
T, F = True, False
COVERS = {  # user → does the scope cover each target?
    "canboxa": (T, F, F, F),
    "huyen": (T, T, F, F),
    "tinh": (T, T, T, F),
    "quantri": (T, T, T, T),
}
ACTS = {"canboxa": T, "huyen": F, "tinh": F, "quantri": T}  # review, enrol, revoke, import


def fingerprint() -> tuple:
    db.session.expire_all()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    revoked = select(Device.id).where(Device.revoked_at.isnot(None))
    open_conflicts = select(Conflict.id).where(Conflict.status == "open")
    return (tuple(sorted(db.session.scalars(revoked))),
            tuple(sorted(db.session.scalars(open_conflicts))),
            count(EnrolmentCode), count(SyncBatch), count(SyncOp), count(Collaborator))


def test_dashboard_scope_matrix(app: Flask) -> None:
    world = build_world(app)
    files = {}
    for key in TARGETS:  # one unsent batch per device, as a file carried by hand
        device = world.devices[key]
        op = device.upsert("household", new_id(), household(device.area, "77"))
        files[key] = device.seal([op])
    checked = 0
    for username, covers in COVERS.items():
        browser = Browser(app)
        assert browser.login(username).status_code == 302, username
        status_page = browser.get("/dashboard/?per_page=200").get_data(as_text=True)
        conflicts = browser.get("/dashboard/conflicts")
        assert conflicts.status_code == (200 if ACTS[username] else 403), username
        enrol_page = browser.get("/dashboard/devices/enrol")
        assert enrol_page.status_code == (200 if ACTS[username] else 403), username
        assert browser.get("/dashboard/import").status_code == (200 if ACTS[username] else 403)
        for key, covered in zip(TARGETS, covers, strict=True):
            where = (username, key)
            device = world.devices[key]
            assert (world.names[key] in status_page) is covered, where
            page = browser.get(f"/dashboard/devices/{device.id}")
            assert page.status_code == (200 if covered else 404), where
            assert (world.names[key] in page.get_data(as_text=True)) is covered, where
            batch = browser.get(f"/dashboard/batches/{world.batches[key]}")
            assert batch.status_code == (200 if covered else 404), where
            if key in world.conflicts and ACTS[username] and db.session.get(
                    Conflict, world.conflicts[key]).status == "open":
                anchor = f'id="conflict-{world.conflicts[key]}"'
                assert (anchor in conflicts.get_data(as_text=True)) is covered, where

            before = fingerprint()
            allowed = covered and ACTS[username]
            refused_status = 404 if ACTS[username] else 403
            if not allowed:
                response = browser.post(f"/dashboard/devices/{device.id}/revoke",
                                        {"confirm": "1"})  # confirmed: refused all the same
                assert response.status_code == refused_status, ("revoke", *where)
                if key in world.conflicts:
                    response = browser.post(
                        f"/dashboard/conflicts/{world.conflicts[key]}/resolve", {"choice": "a"})
                    assert response.status_code == refused_status, ("resolve", *where)
                response = browser.post("/dashboard/devices/enrol", {
                    "commune": device.area.split(".")[0], "area_code": device.area,
                    "collaborator_name": "Người Ngoài Phạm Vi"})
                assert response.status_code == 403, ("enrol", *where)
                response = browser.post("/dashboard/import", {
                    "batch": (io.BytesIO(files[key]), "ngoai.a0b")},
                    content_type="multipart/form-data")
                assert response.status_code == refused_status, ("import", *where)
                assert fingerprint() == before, where
            else:
                response = browser.post("/dashboard/import", {
                    "batch": (io.BytesIO(files[key]), "trong.a0b")},
                    content_type="multipart/form-data")
                assert response.status_code == 200, ("import", *where)
                response = browser.post("/dashboard/devices/enrol", {
                    "commune": device.area.split(".")[0], "area_code": device.area,
                    "collaborator_name": f"Cộng Tác Viên {username}"})
                assert response.status_code == 200, ("enrol", *where)
                assert 'id="enrol-code"' in response.get_data(as_text=True)
            checked += 1
        # allowed actions on what each user covers, last (they change the world)
        if ACTS[username]:
            key = "C" if username == "canboxa" else "other province"
            assert browser.post(f"/dashboard/conflicts/{world.conflicts[key]}/resolve",
                                {"choice": "a"}).status_code == 302
            revoked = "C2" if username == "canboxa" else "other province"
            assert browser.post(f"/dashboard/devices/{world.devices[revoked].id}/revoke",
                                {"confirm": "1"}).status_code == 302
    assert checked == 16
    db.session.expire_all()
    assert {db.session.get(Conflict, i).status for i in world.conflicts.values()} == {"resolved"}
    assert all(db.session.get(Device, world.devices[k].id).revoked
               for k in ("C2", "other province"))
    assert not db.session.get(Device, world.devices["same district"].id).revoked


# ----------------------------------------------------------- duplicates, API pages
# Added with the duplicates queue and the district API pages: the same matrix for
# the pairs of duplicate records in each target, and who reaches the API pages.

MERGES = {"canboxa": T, "huyen": F, "tinh": F, "quantri": T}  # list, compare, merge…
TOKENS = {"canboxa": F, "huyen": T, "tinh": T, "quantri": T}  # own API tokens


def duplicates_fingerprint() -> tuple:
    from server.models.duplicates import DuplicateCandidate
    from server.models.register import Household, Member
    from server.models.sync import Alias

    db.session.expire_all()
    statuses = tuple(db.session.execute(select(DuplicateCandidate.id, DuplicateCandidate.status)
                                        .order_by(DuplicateCandidate.id)))
    merged = tuple(sorted(db.session.scalars(select(Member.id).where(
        Member.merged_into.isnot(None)).union(select(Household.id).where(
            Household.merged_into.isnot(None))))))
    aliases = tuple(db.session.execute(select(Alias.old_id, Alias.active).order_by(Alias.old_id)))
    return statuses, merged, aliases


def test_duplicates_and_api_pages_scope_matrix(app: Flask) -> None:
    from server.models.duplicates import DuplicateCandidate
    from tests.support.duplicates_web import register_twice

    world = build_world(app)
    twice = {key: register_twice(app, world.devices[key]) for key in TARGETS}
    checked = 0
    for username, covers in COVERS.items():
        browser = Browser(app)
        browser.login(username)
        assert browser.get("/dashboard/api").status_code == 200, username
        assert browser.get("/dashboard/api/tokens").status_code == (
            200 if TOKENS[username] else 403), username
        listing = browser.get("/dashboard/duplicates?per_page=200")
        assert listing.status_code == (200 if MERGES[username] else 403), username
        for key, covered in zip(TARGETS, covers, strict=True):
            where = (username, key)
            pair = twice[key].member_pair
            allowed = covered and MERGES[username]
            if MERGES[username]:  # in the list of its status (earlier users decided some)
                db.session.expire_all()
                status = db.session.get(DuplicateCandidate, pair).status
                listed = browser.get(f"/dashboard/duplicates?per_page=200&status={status}")
                assert (f'id="pair-{pair}"' in listed.get_data(as_text=True)) is covered, where
            page = browser.get(f"/dashboard/duplicates/{pair}")
            assert page.status_code == (200 if allowed else 404 if MERGES[username] else 403)
            assert ("Nguyễn Văn Hùng" in page.get_data(as_text=True)) is allowed, where
            if not allowed:
                refused = 404 if MERGES[username] else 403
                before = duplicates_fingerprint()
                for action, form in (("merge", {"survivor": twice[key].members[0]}),
                                     ("reject", {}), ("undo", {})):
                    response = browser.post(f"/dashboard/duplicates/{pair}/{action}", form)
                    assert response.status_code == refused, (action, *where)
                assert duplicates_fingerprint() == before, where
            checked += 1
        if MERGES[username]:  # allowed actions on what the user covers, last
            key = "C" if username == "canboxa" else "other province"
            pair, (survivor, _) = twice[key].member_pair, twice[key].members
            # (reject first: merging a member re-scores, and may drop, the household pair)
            assert browser.post(f"/dashboard/duplicates/{twice[key].household_pair}/reject"
                                ).status_code == 302
            assert browser.post(f"/dashboard/duplicates/{pair}/merge",
                                {"survivor": survivor}).status_code == 302
            assert browser.post(f"/dashboard/duplicates/{pair}/undo").status_code == 302
    assert checked == 16
    db.session.expire_all()
    status = {key: (db.session.get(DuplicateCandidate, t.member_pair).status,
                    db.session.get(DuplicateCandidate, t.household_pair).status)
              for key, t in twice.items()}
    assert status == {"C": ("undone", "rejected"), "same district": ("open", "open"),
                      "same province": ("open", "open"),
                      "other province": ("undone", "rejected")}


# ------------------------------------------------------------------ roll-up pages
# Added with the roll-up pages: every role reads the aggregates of the units it
# covers (the unit page and its monthly report); another unit looks absent.

ROLLUP_UNITS = {  # unit → who covers it
    "00001": {"canboxa", "huyen", "tinh", "quantri"},           # commune C
    "00004": {"huyen", "tinh", "quantri"},                      # same district
    "001": {"huyen", "tinh", "quantri"},                        # the district
    "00037": {"tinh", "quantri"},                               # same province
    "002": {"tinh", "quantri"},                                 # another district
    "01": {"tinh", "quantri"},                                  # the province
    "00688": {"quantri"},                                       # other province
    "02": {"quantri"},
    "VN": {"quantri"},
}


def test_rollup_pages_scope_matrix(app: Flask) -> None:
    from tests.support.rollups_web import rollup_world

    rollup_world(app, households=6)
    checked = 0
    for username in COVERS:
        browser = Browser(app)
        browser.login(username)
        for unit, who in ROLLUP_UNITS.items():
            covered = username in who
            for page in (f"/dashboard/rollups/{unit}?month=2025-06",
                         f"/dashboard/rollups/{unit}/report?month=2025-06",
                         f"/dashboard/rollups/{unit}/report.xlsx?period=2025-Q2"):
                response = browser.get(page)
                assert response.status_code == (200 if covered else 404), (username, page)
                checked += 1
        # drill-down links only to units the user covers
        home = browser.get("/dashboard/rollups?month=2025-06")
        html = browser.get(home.location).get_data(as_text=True)
        linked = set(re.findall(r'href="/dashboard/rollups/([^/?"]+)\?month', html))
        assert linked and all(username in ROLLUP_UNITS.get(u, {username}) for u in linked), (
            username, linked)
    assert checked == 4 * len(ROLLUP_UNITS) * 3


# ------------------------------------------------------ villages, areas, the reform
# Added with issue 13: commune staff keep their commune's villages and areas,
# administrators everyone's (MANAGE_UNITS); province staff and administrators choose
# for split communes (PLAN_MIGRATION) and read a province by former district.

UNIT_PAGES = {"canboxa": (200, 403, 403), "huyen": (403, 403, 403),
              "tinh": (403, 200, 200), "quantri": (200, 200, 200)}  # units, migration, former


def test_village_pages_scope_matrix(app: Flask) -> None:
    from server.models.orgunits import OrgUnit

    world = build_world(app)
    villages = {key: world.devices[key].area.rsplit(".", 1)[0] for key in TARGETS}
    checked = 0
    for username, covers in COVERS.items():
        browser = Browser(app)
        browser.login(username)
        units, migration, former = UNIT_PAGES[username]
        assert browser.get("/dashboard/units").status_code == units, username
        assert browser.get("/dashboard/migration").status_code == migration, username
        assert browser.get("/dashboard/rollups/former-districts?province=01").status_code \
            == former, username
        for key, covered in zip(TARGETS, covers, strict=True):
            village = villages[key]
            name = f"Thôn {username} {checked}"
            response = browser.post(f"/dashboard/units/{village}/rename", {"name": name})
            may = units == 200 and covered
            assert response.status_code == (302 if may else 404 if units == 200 else 403), (
                username, key)
            db.session.expire_all()
            renamed = db.session.scalar(select(OrgUnit.name).where(OrgUnit.code == village))
            assert (renamed == name) == may, (username, key)
            checked += 1
    assert checked == len(COVERS) * len(TARGETS)
