"""Villages, areas and the reform on the dashboard (issue 13): commune staff keep their
villages, province staff choose for split communes, old codes say where they went, and
figures group by former district."""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import func, select

from a0core.errors import A0Error
from a0core.p0 import vn_day
from server.extensions import db
from server.models import (
    Collaborator,
    Household,
    Member,
    MigrationChoice,
    OrgUnit,
    RollupCell,
    User,
)
from server.orgunits.local import MAX_NAME, add, list_units
from server.orgunits.plan import build_plan
from server.security.scope import NATIONAL, Scope
from tests.support import reform as world
from tests.support.web import Browser, log_in


def _as(app, ids: dict[str, int], username: str) -> Browser:
    browser = Browser(app)
    log_in(browser.client, db.session.get(User, ids[username]))
    return browser


def test_commune_staff_keep_their_villages(app) -> None:
    world.build(db.session, {"06010": 6}, villages=2)
    add(db.session, Scope("cli", NATIONAL), "06001", "Thôn Khác", by="cli")
    db.session.commit()
    ids = world.staff(db.session)
    browser = _as(app, ids, "xa.caominh")
    page = browser.get("/dashboard/units").get_data(as_text=True)
    assert "06010.01" in page and "06010.02" in page and "06001.01" not in page

    def post(path: str, **data):
        return browser.post(path, {"commune": "06010", **data})

    assert post("/dashboard/units/add", parent="06010", name="Thôn Nà Pàn").status_code == 302
    assert post("/dashboard/units/add", parent="06010.03", name="Địa bàn 1").status_code == 302
    assert post("/dashboard/units/06010.03/rename", name="Thôn Nà Pàn Mới").status_code == 302
    assert post("/dashboard/units/06010.03.1/assign",
                collaborator_name="Hoàng Thị Mai").status_code == 302
    again = post("/dashboard/units/06010.03.1/assign", collaborator_name="Hoang Thi Mai")
    assert again.status_code == 400 and "collaborator_exists" in again.get_data(as_text=True)
    assert post("/dashboard/units/06010.03.1/assign", collaborator_name="Hoang Thi Mai",
                new_person="1", phone="0912 345 678").status_code == 302
    full = post("/dashboard/units/06010.01.1/retire")
    assert full.status_code == 400 and "area_has_households" in full.get_data(as_text=True)
    assert post("/dashboard/units/06010.01.1/move", to="06010.03").status_code == 302
    # another commune's village is as good as absent; district staff do not keep villages
    assert post("/dashboard/units/06001.01/rename", name="x").status_code == 404
    district = _as(app, ids, "huyen.trangdinh")
    assert district.get("/dashboard/units").status_code == 403

    units = {u.code: u for u in db.session.scalars(select(OrgUnit).where(
        OrgUnit.commune_code == "06010", OrgUnit.level.in_(("village", "area"))))}
    assert units["06010.03"].name == "Thôn Nà Pàn Mới"
    assert units["06010.01.1"].parent_id == units["06010.03"].id and units["06010.01.1"].active
    assert db.session.scalar(select(OrgUnit.name).where(OrgUnit.code == "06001.01")) == "Thôn Khác"
    assert db.session.scalar(select(func.count()).where(
        Collaborator.area_code == "06010.03.1")) == 2
    page = browser.get("/dashboard/units").get_data(as_text=True)
    assert "Thôn Nà Pàn Mới" in page and "Hoàng Thị Mai" in page
    # namesakes told apart by their phone and the day each was added, never an internal id
    area = page.split('id="unit-06010-03-1"')[1].split("</tr>")[0]
    people = re.findall(r'<span class="person">(.*?)</span>', area)
    added = vn_day().strftime("%d/%m/%Y")
    assert sorted(people) == [f"Hoang Thi Mai <small>0912 345 678 · thêm ngày {added}</small>",
                              f"Hoàng Thị Mai <small>thêm ngày {added}</small>"], people
    assert not re.search(r"#\d", area)


def test_units_count_the_people_who_live_here(app) -> None:
    """Households and persons as the roll-ups count them: the deceased and those moved
    out are not the population, nor a household whose only person moved out."""
    world.build(db.session, {"06010": 6}, villages=1)
    cli = Scope("cli", NATIONAL)
    village = add(db.session, cli, "06010", "Thôn Đếm", by="cli")
    area = add(db.session, cli, village.code, "Địa bàn đếm", by="cli")
    place = {"area_code": area.code, "commune_code": "06010", "province_code": "20"}
    for household in ("count-h1", "count-h2"):
        db.session.add(Household(id=household, number=household[-1], data={}, clocks={},
                                 **place))
    for person, household, status in (("count-1", "count-h1", "present"),
                                      ("count-2", "count-h1", "deceased"),
                                      ("count-3", "count-h1", "moved_out"),
                                      ("count-4", "count-h2", "moved_out")):
        db.session.add(Member(id=person, household_id=household, full_name=person,
                              sex="female", birth_date="1990", birth_year=1990,
                              residence_status=status, data={}, clocks={}, **place))
    db.session.commit()
    rows = {r.code: r for r in list_units(db.session, cli, "06010")}
    assert (rows[area.code].households, rows[area.code].persons) == (1, 1)
    assert (rows[village.code].households, rows[village.code].persons) == (1, 1)


def test_province_staff_choose_where_a_split_commune_goes(app) -> None:
    world.build(db.session, {"06622": 8}, villages=2)
    ids = world.staff(db.session)
    browser = _as(app, ids, "tinh.langson")
    page = browser.get("/dashboard/migration").get_data(as_text=True)
    assert 'id="plan-06622-01"' in page and "Xã Đình Lập" in page and "Xã Kiên Mộc" in page
    form = {"to": world.NEW, "province": "20"}
    assert browser.post("/dashboard/migration/choose",
                        {**form, "key": "06622.01", "new_commune": "06613"}).status_code == 302
    assert browser.post("/dashboard/migration/choose",
                        {**form, "key": "06622.02", "other": "06625"}).status_code == 302
    bad = browser.post("/dashboard/migration/choose", {**form, "key": "06622.02",
                                                       "other": "99999"})
    assert bad.status_code == 400 and "plan_choice_invalid" in bad.get_data(as_text=True)
    assert _as(app, ids, "xa.binhxa").get("/dashboard/migration").status_code == 403
    plan = build_plan(db.session, world.NEW)
    assert {(r.village, r.new_commune, r.source) for r in plan.rows} == {
        ("06622.01", "06613", "dashboard"), ("06622.02", "06625", "dashboard")}
    assert db.session.scalar(select(func.count()).select_from(MigrationChoice)) == 2
    page = browser.get("/dashboard/migration").get_data(as_text=True)
    assert "0 / 2" in page or "0 / " in page


def test_old_codes_and_former_districts_after_the_reform(app) -> None:
    areas = world.build(db.session, {"06001": 6, "06010": 6, "06622": 8}, villages=2)
    ids = world.staff(db.session)
    world.split_choices(db.session, {"06622.01": "06613", "06622.02": "06625"})
    world.migrate(db.session)
    province = _as(app, ids, "tinh.langson")
    lookup = province.get("/dashboard/units/lookup?code=06010").get_data(as_text=True)
    assert "Xã Cao Minh" in lookup and "Xã Đoàn Kết" in lookup and "06010.01" in lookup
    for path in ("", "/report", "/report.xlsx"):  # every roll-up page of the old code
        moved = province.get(f"/dashboard/rollups/06010{path}")
        assert moved.status_code == 302 and "/dashboard/units/lookup?code=06010" in \
            moved.location, path

    month = db.session.scalar(select(func.max(RollupCell.month)))
    page = province.get(f"/dashboard/rollups/former-districts?month={month}").get_data(
        as_text=True)
    assert 'id="district-180"' in page and 'id="district-189"' in page
    # the heading names the province; a province code that is none is refused, not empty
    name = db.session.scalar(select(OrgUnit.full_name).where(
        OrgUnit.code == "20", OrgUnit.level == "province", OrgUnit.tree == world.NEW))
    assert f"<h1>Số liệu {name} theo huyện cũ, tháng " in page
    admin = _as(app, ids, "quan.tri")
    assert f"<h1>Số liệu {name} theo huyện cũ" in admin.get(
        f"/dashboard/rollups/former-districts?province=20&month={month}").get_data(as_text=True)
    for lang in ("vi", "en"):  # in words, in the page's language
        admin.get(f"/lang/{lang}")
        unknown = admin.get("/dashboard/rollups/former-districts?province=abc")
        said = getattr(A0Error("province_unknown", record="abc"), lang)
        assert unknown.status_code == 404 and str(escape(said)) in unknown.get_data(as_text=True)
        unit = admin.get("/dashboard/rollups/abc")
        said = getattr(A0Error("orgunit_unknown", record="abc"), lang)
        assert unit.status_code == 404 and str(escape(said)) in unit.get_data(as_text=True)
    admin.get("/lang/vi")
    assert admin.get("/dashboard/rollups/former-districts").status_code == 200
    from server.orgunits.former import by_former_district

    groups, total = by_former_district(db.session, Scope("t", "province", "20"), "20", month)
    cell = db.session.scalar(select(RollupCell.values).where(
        RollupCell.level == "province", RollupCell.unit_code == "20",
        RollupCell.month == month))
    assert total["population"] == cell["population"]
    area_cells = dict(db.session.execute(select(RollupCell.unit_code, RollupCell.values).where(
        RollupCell.level == "area", RollupCell.month == month)).all())
    by_code = {g.code: g for g in groups}
    for code, communes in (("180", ("06001", "06010")), ("189", ("06622",))):
        expected = sum(area_cells.get(a, {}).get("population", 0)
                       for c in communes for a in areas[c])
        assert by_code[code].values.get("population", 0) == expected > 0

    district = _as(app, ids, "huyen.trangdinh")
    home = district.get("/dashboard/rollups")
    assert home.status_code == 302 and "former-districts" in home.location
    page = district.get(f"/dashboard/rollups/former-districts?month={month}").get_data(
        as_text=True)
    assert 'id="district-180"' in page and 'id="district-189"' not in page
    assert district.get("/dashboard/rollups/06613").status_code == 404
    assert district.get("/dashboard/rollups/06001").status_code == 200


def test_a_refused_unit_change_comes_back_beside_its_form(app) -> None:
    """A name of spaces, a collaborator already there: the units page again (400), the
    refusal in words inside the form that was sent, what was typed still there, and
    nothing written."""
    world.build(db.session, {"06010": 6}, villages=2)
    ids = world.staff(db.session)
    browser = _as(app, ids, "xa.caominh")
    before = {u.code: u.name for u in db.session.scalars(select(OrgUnit).where(
        OrgUnit.commune_code == "06010"))}

    def row(page: str, code: str) -> str:
        return page.split(f'<tr id="unit-{code.replace(".", "-")}"')[1].split("</tr>")[0]

    invalid = escape(A0Error("unit_name_invalid", max_length=MAX_NAME).vi)
    answer = browser.post("/dashboard/units/06010.01/rename", {"commune": "06010",
                                                              "name": "   "})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    mine = row(page, "06010.01").split('action="/dashboard/units/06010.01/rename')[1]
    mine = mine.split("</form>")[0]
    assert mine.startswith("#unit-06010-01") and 'role="alert"' in mine
    assert str(invalid) in mine and 'name="name" value="   "' in mine
    assert 'role="alert"' not in row(page, "06010.02")  # only beside the form sent

    answer = browser.post("/dashboard/units/add", {"commune": "06010", "parent": "06010",
                                                  "name": "x" * 201})
    assert answer.status_code == 400
    top = answer.get_data(as_text=True).split('id="add-village"')[1].split("</form>")[0]
    assert 'role="alert"' in top and str(invalid) in top and 'value="' + "x" * 200 in top

    area = next(c for c in before if c.startswith("06010.01."))
    assert browser.post(f"/dashboard/units/{area}/assign", {
        "commune": "06010", "collaborator_name": "Hoàng Thị Mai"}).status_code == 302
    held = db.session.scalar(select(func.count()).where(Collaborator.area_code == area))
    answer = browser.post(f"/dashboard/units/{area}/assign", {
        "commune": "06010", "collaborator_name": "Hoang Thi Mai", "revoke_devices": "1"})
    assert answer.status_code == 400
    mine = row(answer.get_data(as_text=True), area).split("/assign")[1].split("</form>")[0]
    assert 'role="alert"' in mine and "collaborator_exists" in mine
    assert 'value="Hoang Thi Mai"' in mine and 'name="revoke_devices" value="1" checked' in mine

    db.session.expire_all()
    assert {u.code: u.name for u in db.session.scalars(select(OrgUnit).where(
        OrgUnit.commune_code == "06010"))} == before
    assert db.session.scalar(select(func.count()).where(Collaborator.area_code == area)) == held
