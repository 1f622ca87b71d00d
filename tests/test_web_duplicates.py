"""The duplicates queue and the district API pages on both databases: list by score,
the two records side by side, merge (choosing the survivor) and undo, reject, refusals
that change nothing; the API explained; a user's own API tokens, shown once, usable
against the district API, revocable by their owner only."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, insert, select

from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.people import AuditLog
from server.models.register import Household, Member
from server.models.sync import Alias
from server.models.tokens import ApiToken
from tests.support.duplicates_web import register_twice
from tests.support.register import new_id
from tests.support.web import Browser, build_world


def state(twice) -> tuple:
    """What a merge, reject or undo changes: the pairs' status, the records' redirects."""
    db.session.expire_all()
    pairs = tuple(db.session.get(DuplicateCandidate, i).status
                  for i in (twice.member_pair, twice.household_pair))
    merged = tuple(db.session.get(model, i).merged_into for model, ids in (
        (Member, twice.members), (Household, twice.households)) for i in ids)
    aliases = tuple(sorted((a.old_id, a.active) for a in db.session.scalars(select(Alias))))
    return pairs, merged, aliases


def shown_text(html: str) -> str:
    """What a person reads on a page: without attributes (a title, a link, a form's
    value), the small print where a record's id is kept for quoting, and the tags."""
    html = re.sub(r"<small\b.*?</small>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def audit_actions(action: str) -> list[str]:
    return list(db.session.scalars(select(AuditLog.actor_id).where(AuditLog.action == action)))


def test_merge_a_duplicate_and_undo_it(app: Flask) -> None:
    world = build_world(app)
    twice = register_twice(app, world.devices["C"])
    browser = Browser(app)
    browser.login("canboxa")
    listing = browser.get("/dashboard/duplicates").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'<tr id="pair-(\d+)"', listing)]
    scores = {c.id: c.score for c in db.session.scalars(select(DuplicateCandidate))}
    assert set(order) == set(scores) and twice.member_pair in order
    assert [scores[i] for i in order] == sorted(scores.values(), reverse=True)

    page = browser.get(f"/dashboard/duplicates/{twice.member_pair}").get_data(as_text=True)
    assert "Nguyễn Văn Hùng" in page and "Nguyen Van Hung" in page
    assert page.count("Lê Thị Thu (07/07/1987)") == 2        # the fellow member, both sides
    # why it was proposed: part by part, what agreed and what did not
    why = page.split('id="why"')[1].split("</table>")[0]
    rows = {key: agreement for agreement, key in re.findall(r'<tr class="(\w+)" id="why-(\w+)"',
                                                            why)}
    assert rows["family"] == rows["given"] == "agree" and rows["birth"] == "partly"
    assert "giống nhau (một bên gõ không dấu)" in why and "ngày và tháng đổi chỗ" in why
    assert "04/03/1985" in why and "03/04/1985" in why
    assert re.search(r"điểm 0,\d\d", page)  # the score written the Vietnamese way
    assert "Hộ số 501" in page and "Hộ số 502" in page       # and both households
    # records by their names, areas by theirs; the ids only in small print
    assert all(i not in shown_text(page) for i in twice.members + twice.households)
    assert "Địa bàn 1 – Thôn 01" in page and "00001.01.1" not in shown_text(page)
    assert audit_actions("duplicate.view") == ["canboxa"]
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)

    survivor, loser = twice.members
    before = state(twice)
    stale = browser.post(f"/dashboard/duplicates/{twice.member_pair}/merge",
                         {"survivor": survivor, "version": "0.0"})
    assert stale.status_code == 409 and "duplicate_stale" in stale.get_data(as_text=True)
    odd = browser.post(f"/dashboard/duplicates/{twice.member_pair}/merge",
                       {"survivor": twice.households[0], "version": version})
    assert odd.status_code == 400 and "duplicate_survivor_invalid" in odd.get_data(as_text=True)
    forged = browser.client.post(f"/dashboard/duplicates/{twice.member_pair}/merge",
                                 data={"survivor": survivor, "version": version})
    assert forged.status_code == 400  # no CSRF token
    assert browser.post(f"/dashboard/duplicates/{twice.member_pair}/undo").status_code == 409
    assert state(twice) == before

    merged = browser.post(f"/dashboard/duplicates/{twice.member_pair}/merge",
                          {"survivor": survivor, "version": version})
    assert merged.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, loser).merged_into == survivor
    assert db.session.get(Member, survivor).merged_into is None
    assert db.session.get(Alias, loser).active and db.session.get(Alias, loser).survivor_id \
        == survivor
    after = browser.get(merged.headers["Location"]).get_data(as_text=True)
    kept = re.search(r'<strong id="survivor" title="([^"]+)">([^<]+)</strong>', after)
    assert kept.group(1) == survivor and 'id="undo"' in after
    assert db.session.get(Member, survivor).full_name in kept.group(2)
    assert all(i not in shown_text(after) for i in twice.members + twice.households)
    assert "Đã gộp cặp" in after
    assert f'id="pair-{twice.member_pair}"' not in browser.get(
        "/dashboard/duplicates").get_data(as_text=True)
    assert f'id="pair-{twice.member_pair}"' in browser.get(
        "/dashboard/duplicates?status=merged").get_data(as_text=True)
    again = browser.post(f"/dashboard/duplicates/{twice.member_pair}/merge",
                         {"survivor": loser, "version": version})
    assert again.status_code == 409 and "duplicate_not_open" in again.get_data(as_text=True)

    undone = browser.post(f"/dashboard/duplicates/{twice.member_pair}/undo")
    assert undone.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, loser).merged_into is None
    assert not db.session.get(Alias, loser).active
    assert db.session.get(DuplicateCandidate, twice.member_pair).status == "undone"
    assert audit_actions("duplicate.merge") == ["canboxa"]
    assert audit_actions("duplicate.undo") == ["canboxa"]


def test_reject_takes_the_pair_out_of_the_queue(app: Flask) -> None:
    world = build_world(app)
    twice = register_twice(app, world.devices["C"])
    browser = Browser(app)
    browser.login("canboxa")
    households = browser.get("/dashboard/duplicates?kind=household").get_data(as_text=True)
    assert re.findall(r'<tr id="pair-(\d+)"', households) == [str(twice.household_pair)]
    # a household by its number, its head and its village's name, not by codes
    assert "Hộ số 501, chủ hộ Nguyễn Văn Hùng, Thôn Đông" in households
    assert "Địa bàn 1 – Thôn 01" in households and "00001.01.1" not in shown_text(households)
    page = browser.get(f"/dashboard/duplicates/{twice.household_pair}").get_data(as_text=True)
    assert "Nguyễn Văn Hùng (04/03/1985)" in page and "Nguyen Van Hung (03/04/1985)" in page
    assert "Chủ hộ: Nguyễn Văn Hùng" in page and "Chủ hộ: Nguyen Van Hung" in page
    assert all(i not in shown_text(page) for i in twice.households)
    assert browser.post(f"/dashboard/duplicates/{twice.household_pair}/reject").status_code \
        == 302
    db.session.expire_all()
    assert db.session.get(DuplicateCandidate, twice.household_pair).status == "rejected"
    assert db.session.get(Household, twice.households[1]).merged_into is None
    assert f'id="pair-{twice.household_pair}"' in browser.get(
        "/dashboard/duplicates?status=rejected").get_data(as_text=True)
    assert browser.post(f"/dashboard/duplicates/{twice.household_pair}/reject").status_code \
        == 409
    assert audit_actions("duplicate.reject") == ["canboxa"]
    # English
    browser.get("/lang/en")
    english = browser.get("/dashboard/duplicates?status=rejected").get_data(as_text=True)
    assert "Records that may be duplicates" in english and "Not a duplicate" in english


def test_queue_pages_cover_every_pair_once_in_order(app: Flask) -> None:
    """Pages of the queue, ties of score included, hold every pair of the scope exactly
    once, most likely first and newest first among equals; the last page is reachable."""
    build_world(app)
    places = {"00001": ("01", "00001.01.1"), "00688": ("02", "00688.01.1")}
    rows = [{"kind": "member" if n % 3 else "household", "a_id": new_id(), "b_id": new_id(),
             "score": (0.95, 0.9, 0.9, 0.85)[n % 4], "reasons": {}, "status": "open",
             "province_code": places[commune][0], "commune_code": commune,
             "area_code": places[commune][1], "b_area_code": places[commune][1]}
            for n in range(47) for commune in places]
    db.session.execute(insert(DuplicateCandidate), rows)
    db.session.commit()
    pairs = db.session.scalars(select(DuplicateCandidate)).all()
    for username, communes in (("canboxa", {"00001"}), ("quantri", set(places))):
        browser = Browser(app)
        browser.login(username)
        for kind in ("", "member"):
            wanted = [c.id for c in sorted(pairs, key=lambda c: (-c.score, -c.id))
                      if c.commune_code in communes and kind in ("", c.kind)]
            seen: list[int] = []
            for number in range(1, len(wanted) // 7 + 2):
                page = browser.get(f"/dashboard/duplicates?per_page=7&kind={kind}"
                                   f"&page={number}").get_data(as_text=True)
                seen += [int(i) for i in re.findall(r'<tr id="pair-(\d+)"', page)]
            assert seen == wanted, (username, kind)
            last = browser.get(f"/dashboard/duplicates?per_page=7&kind={kind}&page=99999")
            tail = [int(i) for i in re.findall(r'<tr id="pair-(\d+)"', last.get_data(
                as_text=True))]
            assert tail == wanted[-(len(wanted) % 7 or 7):], (username, kind)


def test_api_page_and_own_tokens(app: Flask) -> None:
    build_world(app)
    district = Browser(app)
    district.login("huyen")
    help_page = district.get("/dashboard/api").get_data(as_text=True)
    assert "/api/v1/openapi.json" in help_page and "/api/v1/district/members" in help_page
    assert "Authorization: Bearer a0t_" in help_page
    assert district.get("/api/v1/openapi.json").status_code == 200
    # every endpoint of the district API is listed, each with words saying what it gives
    listed = dict(re.findall(r"<tr><td[^>]*><code>GET (/api/v1/district/[^<]+)</code></td>"
                             r"<td[^>]*>([^<]*)</td>", help_page))
    documented = {path for path in district.get("/api/v1/openapi.json").get_json()["paths"]
                  if path.startswith("/api/v1/district/")}
    assert set(listed) == documented and all(text.strip() for text in listed.values()), listed
    # ... and every refusal code the document gives its feeds is on the page
    paths = district.get("/api/v1/openapi.json").get_json()["paths"]
    codes = {code for path in documented for answer in paths[path]["get"]["responses"].values()
             for code in answer.get("x-error-codes", ())}
    assert {c for c in codes if f"<code>{c}</code>" not in help_page} == set()

    made = district.post("/dashboard/api/tokens", {"label": "DHIS2 huyện"})
    assert made.status_code == 200
    secret = re.search(r'id="token-secret" class="secret">(a0t_[^<]+)<',
                       made.get_data(as_text=True)).group(1)
    assert secret not in district.get("/dashboard/api/tokens").get_data(as_text=True)
    row = db.session.scalars(select(ApiToken)).one()
    assert row.user.username == "huyen" and row.label == "DHIS2 huyện"
    answer = app.test_client().get("/api/v1/district/scope",
                                   headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.get_json()["scope"]["level"] == "district"
    assert district.post("/dashboard/api/tokens", {"label": "  "}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1

    # another user cannot revoke it (it looks absent); commune staff have no token page
    province = Browser(app)
    province.login("tinh")
    assert province.post(f"/dashboard/api/tokens/{row.id}/revoke").status_code == 404
    commune = Browser(app)
    commune.login("canboxa")
    assert commune.get("/dashboard/api/tokens").status_code == 403
    assert commune.get("/dashboard/api").status_code == 200
    db.session.expire_all()
    assert not db.session.get(ApiToken, row.id).revoked

    assert district.post(f"/dashboard/api/tokens/{row.id}/revoke").status_code == 302
    refused = app.test_client().get("/api/v1/district/scope",
                                    headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == \
        "api_token_revoked"
    assert audit_actions("api_token.create") == ["huyen"]
    assert audit_actions("api_token.revoke") == ["huyen"]
    district.get("/lang/en")
    assert "API for district systems" in district.get("/dashboard/api").get_data(as_text=True)
