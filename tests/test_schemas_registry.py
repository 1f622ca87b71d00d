"""schemas/ itself: it loads, it is complete and consistent, and broken files are refused.

No database: these tests read the JSON definitions through :mod:`a0core.schemas`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from a0core.errors import A0Error, catalogue
from a0core.forms import FormSet
from a0core.schemas import (
    FIELD_TYPES,
    FORM_KINDS,
    Registry,
    SchemaDefinitionError,
    load_registry,
    schemas_dir,
)
from tests.conftest import THREE_LEVEL, TWO_LEVEL

ROOT = schemas_dir()
REG = load_registry(ROOT)

EXPECTED_FORMS = {
    "household", "member", "woman_status", "birth", "newborn_screening", "death",
    "move_in", "move_out", "change_info", "method_start", "method_stop", "method_switch",
    "pregnancy", "prenatal_screening", "elderly_check", "marriage", "divorce", "distribution",
    "household_change", "p0_report", "stock_receipt", "stock_transfer", "stock_return",
    "stock_loss", "stock_adjustment", "stock_dispense", "stock_confirm",
}
EVENT_COMMON = ("id", "household_id", "member_id", "event_date")
# refs whose referent may arrive later: they never make a record wait
SOFT_REFS = {("household", "head_member_id"), ("member", "mother_id"),
             ("woman_status", "husband_id"), ("marriage", "spouse_id"),
             ("divorce", "spouse_id")}
ENTITIES = {"household", "member", "event", "distribution", "p0_report", "stock_movement"}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

FORMS = sorted(REG.forms.values(), key=lambda f: f.key)
FORM_IDS = [f"{f.id}/v{f.version}" for f in FORMS]
CODELISTS = sorted(REG.codelists.values(), key=lambda c: c.id)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


# -- the registry as a whole -------------------------------------------------------------


def test_registry_loads_every_form():
    assert {f.id for f in REG.latest_forms()} == EXPECTED_FORMS
    # versions count up from 1 without a gap: every published version is still known
    for form_id in EXPECTED_FORMS:
        versions = sorted(v for (i, v) in REG.forms if i == form_id)
        assert versions == list(range(1, len(versions) + 1)), form_id


def test_member_v2_keeps_every_v1_field_and_adds_the_identification_number():
    """Version 1 stays accepted; version 2 only adds an optional field and loosens the
    card number (a v1 record is a valid v2 record)."""
    v1, v2 = REG.form("member", 1), REG.form("member", 2)
    assert [f.name for f in v2.fields if v1.field(f.name) is None] == ["id_number"]
    for f in v1.fields:
        kept = v2.field(f.name)
        assert (kept.type, kept.required, kept.codelist) == (f.type, f.required, f.codelist)
    id_number = v2.field("id_number")
    assert id_number.type == "personal_id" and not id_number.required
    assert id_number.codelist == "id_province"
    assert {"rule": "personal_id_agrees",
            "fields": ["id_number", "sex", "birth_date", "bhyt_number"]} in v2.raw["rules"]
    card = re.compile(v2.field("bhyt_number").options["pattern"])
    assert card.match("001090012345") and card.match("3012345678")
    assert card.match("HT3303012345678") and not card.match("30123456789")


def test_id_province_table_is_the_official_one():
    """Circular 07/2016/TT-BCA, appendix I: '0' + the statistics code of each of the 63
    provinces of 2016–2025 (checked against the official 2025-03 list), and every
    province of the 2025 reform kept the code of one of them."""
    before = json.loads(THREE_LEVEL.read_text("utf-8"))
    after = json.loads(TWO_LEVEL.read_text("utf-8"))
    table = REG.codelist("id_province").codes
    assert len(table) == 63
    assert {c.attrs["id_code"] for c in table} == {"0" + p["level1_id"] for p in before["data"]}
    assert all(c.attrs["id_code"] == "0" + c.attrs["gso_province"] for c in table)
    assert {c.attrs["province_2025"] for c in table} == {p["Code"] for p in after}
    named = {c.attrs["id_code"]: c.vi for c in table}
    assert (named["001"], named["031"], named["048"], named["079"], named["087"]) == (
        "Hà Nội", "Hải Phòng", "Đà Nẵng", "Hồ Chí Minh", "Đồng Tháp")


def test_every_json_file_is_nfc_and_parses():
    """Vietnamese text must be precomposed (NFC), or search and dedup see two spellings."""
    files = sorted(ROOT.rglob("*.json"))
    assert len(files) > 30
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for s in _strings(doc):
            assert unicodedata.is_normalized("NFC", s), (path, s)


# -- forms -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_form_header(form):
    raw = form.raw
    assert form.kind in FORM_KINDS
    assert raw["entity"] in ENTITIES and form.entity == raw["entity"]
    assert form.title["vi"] and form.title["en"] and form.title["vi"] != form.title["en"]
    assert raw["section"].startswith(("A0", "P0", "LMIS."))
    key = form.field(form.key_field)
    assert key is not None and key.required
    if form.kind == "event":
        assert raw["entity"] == "event" and form.key_field == "id"
        assert raw["section"].startswith("P0.")
    if form.kind == "distribution":
        assert raw["entity"] == "distribution"
    if form.kind == "stock":  # contraceptive logistics: off the P0 slip (a0core/stock.py)
        assert raw["entity"] == "stock_movement" and raw["section"].startswith("LMIS.")


@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_form_fields_are_bilingual(form):
    for f in form.fields:
        assert SNAKE.match(f.name), f.name
        assert f.type in FIELD_TYPES
        assert f.label["vi"].strip() and f.label["en"].strip(), f.name
        assert f.label["vi"] != f.label["en"], f.name
    for raw in _raw_fields(form.raw["fields"]):
        if "help" in raw:
            assert raw["help"]["vi"].strip() and raw["help"]["en"].strip(), raw["name"]


def _raw_fields(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if "include" in item:
            doc = json.loads((ROOT / "fragments" / f"{item['include']}.json").read_text("utf-8"))
            yield from _raw_fields(doc["fields"])
        else:
            yield item


@pytest.mark.parametrize("form", [f for f in FORMS if f.kind == "event"],
                         ids=lambda f: f.id)
def test_event_forms_share_the_common_fragment(form):
    assert {"include": "event_common"} in form.raw["fields"]
    names = [f.name for f in form.fields]
    assert tuple(names[:4]) == EVENT_COMMON
    assert all(form.field(n).required for n in EVENT_COMMON)
    assert form.field("event_date").options.get("max") == "today"


def test_refs_name_their_entity_and_soft_refs_are_the_expected_ones():
    soft = set()
    for form in FORMS:
        for f in form.fields:
            if f.type == "ref":
                assert f.entity in {"household", "member"}, (form.id, f.name)
                if f.options.get("soft"):
                    soft.add((form.id, f.name))
                    assert not f.required, (form.id, f.name)
    assert soft == SOFT_REFS


def test_every_codelist_used_exists_and_every_codelist_is_used():
    used = {f.codelist for form in FORMS for f in form.fields if f.codelist}
    assert used <= set(REG.codelists)
    units = {c.attrs["unit"] for c in REG.codelist("contraceptive_method").codes
             if "unit" in c.attrs}
    assert units <= {c.code for c in REG.codelist("supply_unit").codes}
    assert set(REG.codelists) == used | {"supply_unit"}


def test_past_dates_and_free_future_dates():
    """Every date is "not in the future" except the expected date of delivery and a
    lot's expiry date."""
    future_ok = set()
    for form in FORMS:
        for f in form.fields:
            if f.type in {"date", "partial_date"} and f.options.get("max") != "today":
                future_ok.add((form.id, f.name))
    assert future_ok == {("pregnancy", "expected_date"), ("stock_receipt", "expiry"),
                         ("stock_transfer", "expiry"), ("stock_return", "expiry")}


# -- code lists --------------------------------------------------------------------------


@pytest.mark.parametrize("codelist", CODELISTS, ids=lambda c: c.id)
def test_codelist_is_well_formed(codelist):
    path = ROOT / "codelists" / f"{codelist.id}.json"
    assert path.exists()
    assert codelist.version >= 1
    assert codelist.title["vi"] and codelist.title["en"]
    codes = [c.code for c in codelist.codes]
    assert len(codes) == len(set(codes)) > 0
    for c in codelist.codes:
        assert SNAKE.match(c.code), c.code
        assert c.vi.strip() and c.en.strip(), c.code
    # labels are unique too, or a collaborator could not tell two codes apart
    assert len({c.vi for c in codelist.codes}) == len(codes)
    assert codelist.active_codes()


def test_ethnicity_has_the_54_official_groups():
    eth = REG.codelist("ethnicity")
    codes = [c.code for c in eth.codes]
    assert len(codes) == 56 and codes[-2:] == ["foreign", "unknown"]
    names = {c.code: c.vi for c in eth.codes}
    assert names["kinh"] == "Kinh" and names["mong"] == "Mông" and names["e_de"] == "Ê Đê"
    assert names["bru_van_kieu"] == "Bru-Vân Kiều" and names["ro_mam"] == "Rơ Măm"


def test_contraceptive_method_attributes():
    methods = REG.codelist("contraceptive_method")
    none = [c for c in methods.codes if c.attrs.get("is_none")]
    assert [c.code for c in none] == ["none"]
    assert all(isinstance(c.attrs.get("modern"), bool) for c in methods.codes)
    modern = {c.code for c in methods.codes if c.attrs["modern"]}
    assert modern == {"iud", "pill", "injectable", "implant", "condom", "female_sterilization",
                      "male_sterilization", "emergency_pill", "lam"}
    distributable = {c.code: c.attrs["unit"] for c in methods.codes
                     if c.attrs.get("distributable")}
    assert distributable == {"pill": "cycle", "condom": "piece", "emergency_pill": "dose"}
    assert all(c.attrs.get("modern") for c in methods.codes if c.attrs.get("distributable"))


def test_residence_status_says_who_lives_here():
    rs = REG.codelist("residence_status")
    assert {c.code for c in rs.codes if c.attrs.get("lives_here")} == {"present", "temporary"}
    assert {c.code for c in rs.codes} == {"present", "temporary", "absent", "moved_out",
                                          "deceased"}


def test_codes_used_by_the_register_fold_exist():
    """a0core.projection writes these codes; they must stay in their lists."""
    assert {"present", "moved_out", "deceased"} <= {
        c.code for c in REG.codelist("residence_status").codes}
    assert {"single", "married", "divorced"} <= {
        c.code for c in REG.codelist("marital_status").codes}
    assert {"head", "spouse", "child", "child_in_law", "grandchild", "other_relative"} <= {
        c.code for c in REG.codelist("relation").codes}
    assert "pregnant" in {c.code for c in REG.codelist("pregnancy_outcome").codes}


def test_choices_apply_the_field_filters():
    method = REG.form("method_start").field("method")
    assert "none" not in [c.code for c in REG.choices(method)]
    dist = REG.form("distribution").field("method")
    assert [c.code for c in REG.choices(dist)] == ["pill", "condom", "emergency_pill"]
    move = REG.form("move_in").field("residence_type")
    assert [c.code for c in REG.choices(move)] == ["present", "temporary"]
    assert REG.choices(REG.form("member").field("full_name")) == []


# -- official-code mapping ---------------------------------------------------------------


def test_mapping_tables_refer_to_existing_codes():
    tables = REG.mappings["tables"]
    assert REG.mappings["version"] == 1
    assert {"ethnicity", "sex", "contraceptive_method", "marital_status"} <= {
        t["codelist"] for t in tables}
    for t in tables:
        codes = {c.code for c in REG.codelist(t["codelist"]).codes}
        assert t["system"] and t["map"]
        assert set(t["map"]) <= codes, t["codelist"]
        assert all(isinstance(v, str) and v for v in t["map"].values())
        start = dt.date.fromisoformat(t["valid_from"])
        if "valid_to" in t:
            assert dt.date.fromisoformat(t["valid_to"]) >= start


def test_mapping_is_complete_for_sex_marital_status_and_methods():
    for list_id in ("sex", "marital_status", "contraceptive_method"):
        table = next(t for t in REG.mappings["tables"] if t["codelist"] == list_id)
        assert set(table["map"]) == {c.code for c in REG.codelist(list_id).codes}


def test_ethnicity_official_codes_follow_the_gso_order():
    table = next(t for t in REG.mappings["tables"] if t["codelist"] == "ethnicity")
    official = [c.code for c in REG.codelist("ethnicity").codes][:54]
    assert [table["map"][c] for c in official] == [f"{i:02d}" for i in range(1, 55)]
    assert "foreign" not in table["map"] and "unknown" not in table["map"]
    assert REG.official_code("ethnicity", "kinh") == "01"
    assert REG.official_code("ethnicity", "mong") == "08"
    assert REG.official_code("ethnicity", "o_du") == "53"
    assert REG.official_code("ethnicity", "ro_mam", on="2025-07-01") == "54"
    assert REG.official_code("ethnicity", "kinh", on="1970-01-01") is None
    assert REG.official_code("sex", "female") == "2"


# -- the error catalogue -----------------------------------------------------------------


def test_error_catalogue_is_bilingual():
    for code, entry in catalogue().items():
        assert SNAKE.match(code)
        assert entry["vi"].strip() and entry["en"].strip() and entry["vi"] != entry["en"]
    assert "code_not_allowed" in catalogue()


# -- versions and retired codes (on a copy of schemas/) ----------------------------------


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(ROOT, root)
    return root


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def test_a_new_version_is_added_and_the_old_one_still_accepted(schemas_copy: Path):
    v1 = json.loads((schemas_copy / "forms" / "death" / "v1.json").read_text("utf-8"))
    v2 = {**v1, "version": 2, "fields": [*v1["fields"], {
        "name": "place", "type": "string", "max_length": 50,
        "label": {"vi": "Nơi mất", "en": "Place of death"}}]}
    (schemas_copy / "forms" / "death" / "v2.json").write_text(
        json.dumps(v2, ensure_ascii=False), encoding="utf-8")
    reg = load_registry(schemas_copy)
    assert reg.latest_version("death") == 2 and reg.form("death", 1) is not None
    forms = FormSet(reg)
    record = {"id": "6f1c1b8e-4f1e-4d55-9a59-1d1c54b8c001",
              "household_id": "6f1c1b8e-4f1e-4d55-9a59-1d1c54b8c002",
              "member_id": "6f1c1b8e-4f1e-4d55-9a59-1d1c54b8c003", "event_date": "2025-01-02"}
    assert forms.validate("death", 1, record) == record
    assert forms.validate("death", 2, {**record, "place": "Nhà"})["place"] == "Nhà"
    with pytest.raises(A0Error) as err:
        forms.validate("death", 3, record)
    assert err.value.code == "form_version_unknown"
    with pytest.raises(A0Error) as err:
        forms.validate("burial", 1, record)
    assert err.value.code == "form_unknown"


def test_a_retired_code_is_kept_but_no_longer_accepted(schemas_copy: Path):
    def retire(doc: dict[str, Any]) -> None:
        next(c for c in doc["codes"] if c["code"] == "other_traditional")["retired"] = True

    _edit(schemas_copy / "codelists" / "contraceptive_method.json", retire)
    reg = load_registry(schemas_copy)
    methods = reg.codelist("contraceptive_method")
    assert methods.get("other_traditional").retired
    assert "other_traditional" not in [c.code for c in methods.active_codes()]
    # the code keeps its labels and its official code; only new records refuse it
    assert methods.get("other_traditional").vi == "Biện pháp truyền thống khác"
    assert reg.official_code("contraceptive_method", "other_traditional") is not None


# -- broken definitions ------------------------------------------------------------------

FORM = "forms/birth/v1.json"
MEMBER = "forms/member/v2.json"


def _field(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def pick(doc: dict[str, Any]) -> dict[str, Any]:
        return next(f for f in doc["fields"] if f.get("name") == name)
    return pick


def _set(name: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _field(name)(doc).update(values)


def _drop_key(name: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _field(name)(doc).pop(key)


BROKEN: dict[str, tuple[str, Callable[[Any], None], str]] = {
    # name: (file, change, words the error must contain)
    "unknown field type": (FORM, _set("sex", type="gender"), "unknown type"),
    "missing en label": (FORM, _set("sex", label={"vi": "Giới tính"}), "vi and en labels"),
    "code field without codelist": (FORM, _drop_key("sex", "codelist"), "names no codelist"),
    "unknown codelist": (FORM, _set("sex", codelist="gender"), "unknown codelist"),
    "unknown fragment": (FORM, lambda d: d["fields"].__setitem__(0, {"include": "nope"}),
                         "unknown fragment"),
    "repeated field": (FORM, lambda d: d["fields"].append(_field("sex")(d)), "repeated"),
    "unknown kind": (FORM, lambda d: d.update(kind="survey"), "unknown kind"),
    "id does not match folder": (FORM, lambda d: d.update(id="births"), "file's place"),
    "version does not match file": (FORM, lambda d: d.update(version=2), "file's place"),
    "key is not a field": (FORM, lambda d: d.update(key="event_id"), "key 'event_id'"),
    "unknown rule": (FORM, lambda d: d["rules"].append({"rule": "unique", "fields": ["sex"]}),
                     "bad rule"),
    "rule on unknown field": (FORM, lambda d: d["rules"].append(
        {"rule": "different", "fields": ["sex", "gender"]}), "bad rule"),
    "rule with too few fields": (FORM, lambda d: d["rules"].append(
        {"rule": "different", "fields": ["sex"]}), "wrong number of fields"),
    "not_before with three fields": (FORM, lambda d: d["rules"].append(
        {"rule": "not_before", "fields": ["event_date", "event_date", "event_date"]}),
        "wrong number of fields"),
    "relevant on unknown field": (
        FORM, _set("child_name", relevant={"field": "gender", "in": ["male"]}), "bad condition"),
    "relevant names unknown code": (
        FORM, _set("child_name", relevant={"field": "sex", "in": ["boy"]}), "unknown code 'boy'"),
    "relevant with unknown operator": (
        FORM, _set("child_name", relevant={"field": "sex", "eq": "male"}), "bad condition"),
    "relevant all empty": (FORM, _set("child_name", relevant={"all": []}), "bad condition"),
    "ref without entity": ("fragments/event_common.json", _drop_key("household_id", "entity"),
                           "needs an entity"),
    "soft on a non-ref field": (FORM, _set("child_name", soft=True), "only ref fields"),
    "codes_with on a non-code field": (FORM, _set("child_name", codes_with={"x": True}),
                                       "on a code field"),
    "codes_with allows no code": (FORM, _set("sex", codes_with={"distributable": True}),
                                  "allows no active code"),
    "duplicate code": ("codelists/sex.json", lambda d: d["codes"].append(dict(d["codes"][0])),
                       "duplicate code"),
    "personal_id without codelist": (MEMBER, _drop_key("id_number", "codelist"),
                                     "names no codelist"),
    "personal_id_agrees with two fields": (MEMBER, lambda d: d["rules"].append(
        {"rule": "personal_id_agrees", "fields": ["id_number", "sex"]}),
        "wrong number of fields"),
    "personal_id_agrees on a string": (MEMBER, lambda d: d["rules"].append(
        {"rule": "personal_id_agrees", "fields": ["full_name", "sex", "birth_date"]}),
        "takes a personal_id"),
    "province without id_code": ("codelists/id_province.json",
                                 lambda d: d["codes"][0].pop("id_code"), "three-digit id_code"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_definition_is_refused(schemas_copy: Path, name: str):
    relpath, change, words = BROKEN[name]
    _edit(schemas_copy / relpath, change)
    with pytest.raises(SchemaDefinitionError, match=re.escape(words)):
        load_registry(schemas_copy)


def test_invalid_json_is_refused(schemas_copy: Path):
    (schemas_copy / FORM).write_text("{not json", encoding="utf-8")
    with pytest.raises(SchemaDefinitionError):
        load_registry(schemas_copy)


def test_unbroken_copy_loads(schemas_copy: Path):
    reg: Registry = load_registry(schemas_copy)
    assert set(reg.forms) == set(REG.forms)
