"""Device enrolment, revocation and the staff endpoints, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import func, select, text

from a0core.envelope import DeviceKeys, b64e, sign_request
from a0core.errors import A0Error
from a0core.hlc import pack, physical_ms, wall_ms
from a0core.schemas import schemas_dir
from server.extensions import db
from server.models.people import AuditLog, Collaborator, Device, EnrolmentCode, User
from server.models.sync import DeviceSync
from server.security import enrolment
from server.security.enrolment import (
    ALPHABET,
    enrol_device,
    format_code,
    generate_code,
    issue_code,
    normalise_code,
)
from server.security.keys import keystore_for
from server.security.scope import NATIONAL, Scope
from server.security.users import create_user
from tests.conftest import TWO_LEVEL
from tests.support.units import add_areas, import_provinces
from tests.support.web import log_in

ENROL = "/api/v1/devices/enrol"
ME = "/api/v1/devices/me"
CODES = "/api/v1/enrolment-codes"
AREA = "12619.01.1"          # Xã Diên Hà, Hưng Yên (33)
AREA_SAME_COMMUNE = "12619.02.1"
AREA_OTHER_COMMUNE = "11953.01.1"  # Phường Phố Hiến, Hưng Yên
PASSWORD = "mật khẩu đủ dài 2026"
CODE_RE = re.compile(r"\b([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2})\b")
NATION = Scope("cli", NATIONAL, person_level=True)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "protocol" / f"{name}.json").read_text("utf-8"))
    return Draft202012Validator(schema)


@dataclass
class Place:
    staff_id: int
    other_staff_id: int


@pytest.fixture
def place(session) -> Place:
    tree = import_provinces(session, TWO_LEVEL, ["33", "01"])
    add_areas(session, tree, [AREA, AREA_SAME_COMMUNE, AREA_OTHER_COMMUNE])
    staff = create_user(session, "can.bo.dienha", "Trần Văn Bình", PASSWORD, "commune_staff",
                        "12619")
    other = create_user(session, "can.bo.phohien", "Lê Thị Hoa", PASSWORD, "commune_staff",
                        "11953")
    session.commit()
    return Place(staff.id, other.id)


def login(client: FlaskClient, user_id: int) -> None:
    log_in(client, db.session.get(User, user_id))


def enrol_body(code: str, keys: DeviceKeys, hlc: int = 0, label: str = "Samsung A05") -> dict:
    return {"code": code, "sign_public_key": keys.sign_public_key,
            "box_public_key": keys.box_public_key, "label": label, "hlc": hlc}


def new_code(session, area: str = AREA, name: str | None = "Nguyễn Thị Lan", **kw) -> str:
    code, _ = issue_code(session, area_code=area, collaborator_name=name, created_by="cli",
                         scope=NATION, ttl=kw.pop("ttl", dt.timedelta(hours=24)), **kw)
    session.commit()
    return code


def me(client: FlaskClient, device_id: str, keys: DeviceKeys):
    return client.get(ME, headers=sign_request("GET", ME, b"", keys, device_id=device_id))


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


# ------------------------------------------------------------------ codes


def test_codes_are_unambiguous_and_compare_loosely() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("0O1IL") & set(ALPHABET)
    codes = {generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 10 and set(c) <= set(ALPHABET) for c in codes)
    code = "ABCDEFGHJK"
    assert format_code(code) == "ABCD-EFGH-JK"
    for typed in ("ABCD-EFGH-JK", "abcd-efgh-jk", "abcd efgh jk", " AbCdEfGhJk ", "ABCD--EFGH-JK"):
        assert normalise_code(typed) == code
    for bad in ("ABCD-EFGH-J", "ABCD-EFGH-JKM", "ABCD-EFGH-J0", "ABCD-EFGH-JI", 7, None, "Ä" * 10):
        assert normalise_code(bad) is None


def test_only_the_hash_of_the_code_is_stored(app: Flask, session, place: Place) -> None:
    code = new_code(session)
    plain = code.replace("-", "")
    row = session.scalar(select(EnrolmentCode))
    assert row.code_hash == hashlib.sha256(plain.encode()).hexdigest()
    dump = json.dumps([[str(v) for v in r] for r in session.execute(
        text("SELECT * FROM enrolment_code")).all()] + [
        [str(v) for v in r] for r in session.execute(text("SELECT * FROM audit_log")).all()])
    assert plain not in dump and code not in dump


# --------------------------------------------------------------- over HTTP


def test_full_enrolment_over_http(app: Flask, session, place: Place) -> None:
    result = app.test_cli_runner().invoke(args=[
        "enroll", "--area", AREA, "--collaborator-name", "Nguyễn Thị Lan",
        "--phone", "0912 345 678"])
    assert result.exit_code == 0, result.output
    code = CODE_RE.search(result.output).group(1)
    assert "expires" in result.output and AREA in result.output

    keys = DeviceKeys.generate()
    client = app.test_client()
    device_hlc = pack(wall_ms() - 5000)
    response = client.post(ENROL, json=enrol_body(code, keys, hlc=device_hlc))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert not list(validator("enrol_response.v1").iter_errors(body))
    assert body["collaborator"]["full_name"] == "Nguyễn Thị Lan"
    assert body["area"]["code"] == AREA
    assert body["commune"] == {"code": "12619", "name": "Xã Diên Hà"}
    assert body["province"] == {"code": "33", "name": "Tỉnh Hưng Yên"}
    # villages by name, for filing a household: the area's own first, then the commune's
    assert [v["code"] for v in body["villages"]] == [AREA.rsplit(".", 1)[0],
                                                     AREA_SAME_COMMUNE.rsplit(".", 1)[0]]
    assert body["villages"][0]["name"].startswith("Thôn ")
    assert body["server_key"] == keystore_for(app).public().to_dict()
    assert body["server_hlc"] > device_hlc
    assert response.headers["Cache-Control"] == "no-store"

    session.expire_all()
    device = session.get(Device, body["device_id"])
    assert device.sign_public_key == keys.sign_public_key
    assert device.box_public_key == keys.box_public_key
    assert (device.area_code, device.commune_code, device.province_code) == (AREA, "12619", "33")
    assert device.collaborator.phone == "0912 345 678"
    assert device.label == "Samsung A05"
    sync = session.get(DeviceSync, device.id)
    assert (sync.highest_contiguous_seq, sync.max_seq, sync.pull_cursor, sync.gaps) == (0, 0, 0, [])
    row = session.scalar(select(EnrolmentCode))
    assert row.used_at is not None and row.device_id == device.id

    actions = {(a.action, a.actor_type, a.actor_id, a.commune_code, a.province_code)
               for a in session.scalars(select(AuditLog))}
    assert ("enrolment_code.issue", "system", "cli", "12619", "33") in actions
    assert ("device.enrol", "device", device.id, "12619", "33") in actions

    status = me(client, device.id, keys)
    assert status.status_code == 200, status.get_json()
    assert status.get_json()["status"] == "active"
    assert status.get_json()["device_id"] == device.id
    session.expire_all()
    assert session.get(Device, device.id).last_seen_at is not None


def test_code_typed_loosely_still_enrols(app: Flask, session, place: Place) -> None:
    code = new_code(session)
    typed = code.lower().replace("-", " ")
    response = app.test_client().post(ENROL, json=enrol_body(typed, DeviceKeys.generate()))
    assert response.status_code == 200, response.get_json()


def test_reused_code_is_refused_and_changes_nothing(app: Flask, session, place: Place) -> None:
    code = new_code(session)
    client = app.test_client()
    first = client.post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
    assert first.status_code == 200
    devices, audits = count(session, Device), count(session, AuditLog)

    again = client.post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
    assert again.status_code == 409 and error_code(again) == "enrol_code_used"
    assert again.get_json()["error"]["message_vi"].startswith("Mã đăng ký đã được dùng")
    # nothing changes but the record of the refused attempt (throttling, audit)
    assert (count(session, Device), count(session, AuditLog)) == (devices, audits + 1)
    assert session.scalars(select(AuditLog.action).order_by(AuditLog.id.desc())).first() \
        == "device.enrol_failure"
    assert count(session, DeviceSync) == 1


def test_retry_with_the_same_keys_gets_the_same_answer(app: Flask, session,
                                                       place: Place) -> None:
    code = new_code(session)
    keys = DeviceKeys.generate()
    client = app.test_client()
    first = client.post(ENROL, json=enrol_body(code, keys)).get_json()
    second = client.post(ENROL, json=enrol_body(code, keys))
    assert second.status_code == 200
    second = second.get_json()
    assert second["device_id"] == first["device_id"]
    assert {k: v for k, v in second.items() if k != "server_hlc"} == \
        {k: v for k, v in first.items() if k != "server_hlc"}
    assert count(session, Device) == 1
    # the same code with the same sign key but another box key is another device
    other = DeviceKeys(keys.sign_private, DeviceKeys.generate().box_private)
    refused = client.post(ENROL, json=enrol_body(code, other))
    assert refused.status_code == 409 and error_code(refused) == "enrol_code_used"


def test_expired_and_unknown_codes(app: Flask, session, place: Place) -> None:
    expired = new_code(session, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
                       ttl=dt.timedelta(hours=1))
    client = app.test_client()
    response = client.post(ENROL, json=enrol_body(expired, DeviceKeys.generate()))
    assert response.status_code == 410 and error_code(response) == "enrol_code_expired"
    for unknown in ("ABCD-EFGH-JK", "----------", "0000-0000-00"):
        response = client.post(ENROL, json=enrol_body(unknown, DeviceKeys.generate()))
        assert response.status_code == 400 and error_code(response) == "enrol_code_unknown"
    assert count(session, Device) == 0


def test_guessed_codes_are_throttled_per_address_and_audited(app: Flask, session,
                                                           place: Place) -> None:
    """200 wrong codes in a second were neither throttled nor audited (issue 18)."""
    code = new_code(session)
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    statuses = []
    for _n in range(40):
        guess = format_code(generate_code())
        response = guesser.post(ENROL, json=enrol_body(guess, DeviceKeys.generate()))
        statuses.append((response.status_code, error_code(response)))
    limit = 30  # login.IP_FAILURES
    assert statuses[:limit] == [(400, "enrol_code_unknown")] * limit
    assert statuses[limit:] == [(429, "enrol_throttled")] * (40 - limit)
    # even the right code is refused from that address now; another address enrols
    refused = guesser.post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
    assert refused.status_code == 429 and count(session, Device) == 0
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert other.post(ENROL, json=enrol_body(code, DeviceKeys.generate())).status_code == 200
    actions = [a for a, in session.execute(select(AuditLog.action).where(
        AuditLog.ip == "203.0.113.9").order_by(AuditLog.id))]
    assert actions == ["device.enrol_failure"] * limit + ["device.enrol_throttled"] * 11


def test_one_code_attacked_from_many_addresses_is_throttled(app: Flask, session,
                                                            place: Place) -> None:
    code = new_code(session)
    client = app.test_client()
    for n in range(6):  # the code spent by the first device, then tried with other keys
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n}"
        client.post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
    client.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    last = client.post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
    assert last.status_code == 429 and error_code(last) == "enrol_throttled"


def test_bad_keys_and_bad_requests_leave_the_code_unspent(app: Flask, session,
                                                          place: Place) -> None:
    code = new_code(session)
    keys = DeviceKeys.generate()
    client = app.test_client()
    bad_bodies = [
        {**enrol_body(code, keys), "sign_public_key": "A" * 42 + "B"},     # not canonical b64
        {**enrol_body(code, keys), "box_public_key": b64e(bytes(32))},      # low-order point
        {**enrol_body(code, keys), "sign_public_key": b64e(b"x" * 31)},     # 31 bytes
    ]
    for body in bad_bodies:
        response = client.post(ENROL, json=body)
        assert response.status_code == 400 and error_code(response) == "device_key_invalid", body
    malformed = [
        {k: v for k, v in enrol_body(code, keys).items() if k != "hlc"},
        {**enrol_body(code, keys), "extra": 1},
        {**enrol_body(code, keys), "hlc": -1},
        {**enrol_body(code, keys), "label": 5},
    ]
    for body in malformed:
        response = client.post(ENROL, json=body)
        assert response.status_code == 400 and error_code(response) == "request_malformed", body
    for raw, ctype in ((b"{not json", "application/json"),
                       (json.dumps(enrol_body(code, keys)).encode(), "text/plain"),
                       (b"[]", "application/json"), (b"{" * 20000, "application/json")):
        response = client.post(ENROL, data=raw, content_type=ctype)
        assert response.status_code == 400 and error_code(response) == "request_malformed"
    assert count(session, Device) == 0
    assert client.post(ENROL, json=enrol_body(code, keys)).status_code == 200


def test_a_device_clock_ahead_is_refused_before_the_code_is_spent(app: Flask, session,
                                                                  place: Place) -> None:
    """Enrolment accepted a clock 30 days ahead (issue 18)."""
    code = new_code(session)
    keys = DeviceKeys.generate()
    future = pack(wall_ms() + 30 * 24 * 3600 * 1000)
    response = app.test_client().post(ENROL, json=enrol_body(code, keys, hlc=future))
    assert response.status_code == 400 and error_code(response) == "hlc_future"
    assert count(session, Device) == 0
    fine = pack(wall_ms() + 3600 * 1000)  # an hour fast is within the tolerance
    response = app.test_client().post(ENROL, json=enrol_body(code, keys, hlc=fine))
    assert response.status_code == 200
    assert physical_ms(response.get_json()["server_hlc"]) >= physical_ms(fine)


def test_a_concurrently_spent_code_is_refused(app: Flask, session, place: Place) -> None:
    """The code is spent by a conditional update: a stale read cannot spend it twice."""
    code = new_code(session)
    row = session.scalar(select(EnrolmentCode))
    assert row.used_at is None  # loaded: the session now holds a stale copy after the update
    session.execute(text("UPDATE enrolment_code SET used_at = :t, used_with = 'x'"),
                    {"t": dt.datetime.now(dt.UTC)})
    keys = DeviceKeys.generate()
    with pytest.raises(A0Error) as refused:
        enrol_device(session, code=code, sign_public_key=keys.sign_public_key,
                     box_public_key=keys.box_public_key, label=None,
                     server_key=keystore_for(app).public())
    assert refused.value.code == "enrol_code_used"
    session.rollback()
    assert count(session, Device) == 0


# ------------------------------------------------------------ revocation


def test_revocation_takes_effect_on_the_next_signed_request(app: Flask, session,
                                                            place: Place) -> None:
    code = new_code(session)
    keys = DeviceKeys.generate()
    client = app.test_client()
    device_id = client.post(ENROL, json=enrol_body(code, keys)).get_json()["device_id"]
    assert me(client, device_id, keys).status_code == 200

    staff = app.test_client()
    login(staff, place.staff_id)
    response = staff.post(f"/api/v1/devices/{device_id}/revoke", json={})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["device_id"] == device_id

    refused = me(client, device_id, keys)
    assert refused.status_code == 403 and error_code(refused) == "device_revoked"
    # the lost-answer retry does not bring a revoked device back
    retry = client.post(ENROL, json=enrol_body(code, keys))
    assert retry.status_code == 403 and error_code(retry) == "device_revoked"
    audit = session.scalar(select(AuditLog).where(AuditLog.action == "device.revoke"))
    assert (audit.actor_type, audit.actor_id, audit.target, audit.commune_code) == (
        "user", "can.bo.dienha", f"device:{device_id}", "12619")
    # revoking again changes nothing and writes nothing
    assert staff.post(f"/api/v1/devices/{device_id}/revoke", json={}).status_code == 200
    assert session.scalar(select(func.count()).where(AuditLog.action == "device.revoke")) == 1


def test_signed_requests_are_checked(app: Flask, session, place: Place) -> None:
    code = new_code(session)
    keys = DeviceKeys.generate()
    client = app.test_client()
    device_id = client.post(ENROL, json=enrol_body(code, keys)).get_json()["device_id"]
    stranger = DeviceKeys.generate()
    forged = me(client, device_id, stranger)
    assert forged.status_code == 401 and error_code(forged) == "request_signature_invalid"
    unknown = me(client, "3f1c2a9e-0b7d-4e8a-9c61-5d2f7a8b9c10", keys)
    assert unknown.status_code == 401 and error_code(unknown) == "device_unknown"
    unsigned = client.get(ME)
    assert unsigned.status_code == 401 and error_code(unsigned) == "request_signature_invalid"
    # a signature over another path does not carry over
    headers = sign_request("GET", "/api/v1/sync/pull", b"", keys, device_id=device_id)
    assert client.get(ME, headers=headers).status_code == 401


def test_revoked_device_cannot_be_revoked_out_of_scope(app: Flask, session,
                                                       place: Place) -> None:
    code = new_code(session)
    client = app.test_client()
    device_id = client.post(ENROL, json=enrol_body(code, DeviceKeys.generate())
                            ).get_json()["device_id"]
    other = app.test_client()
    login(other, place.other_staff_id)
    response = other.post(f"/api/v1/devices/{device_id}/revoke", json={})
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert session.get(Device, device_id).revoked_at is None
    # a device scope never revokes, not even in its own area
    device = session.get(Device, device_id)
    with pytest.raises(A0Error) as refused:
        enrolment.revoke_device(session, device_id, by="device:x", scope=Scope.for_device(device))
    assert refused.value.code == "forbidden"


# ----------------------------------------------------------- staff endpoint


def test_staff_endpoint_requires_login_and_scope(app: Flask, session, place: Place) -> None:
    client = app.test_client()
    body = {"area_code": AREA, "collaborator_name": "Phạm Thị Mai", "phone": "0987654321"}
    anonymous = client.post(CODES, json=body)
    assert anonymous.status_code == 401 and error_code(anonymous) == "login_required"
    assert client.post("/api/v1/devices/x/revoke", json={}).status_code == 401

    login(client, place.staff_id)
    elsewhere = client.post(CODES, json={**body, "area_code": AREA_OTHER_COMMUNE})
    assert elsewhere.status_code == 403 and error_code(elsewhere) == "forbidden"
    assert count(session, Collaborator) == 0 and count(session, EnrolmentCode) == 0
    unknown = client.post(CODES, json={**body, "area_code": "12619.09.9"})
    assert unknown.status_code == 400 and error_code(unknown) == "area_unknown"
    commune_is_not_an_area = client.post(CODES, json={**body, "area_code": "12619"})
    assert error_code(commune_is_not_an_area) == "area_unknown"
    form_post = client.post(CODES, data=body)  # what a cross-site form could send
    assert form_post.status_code == 400 and error_code(form_post) == "request_malformed"

    issued = client.post(CODES, json=body)
    assert issued.status_code == 201, issued.get_json()
    doc = issued.get_json()
    assert CODE_RE.fullmatch(doc["code"])
    assert doc["area"] == {"code": AREA, "name": "Địa bàn 1 – Thôn 01"}
    assert doc["collaborator"]["full_name"] == "Phạm Thị Mai"
    expires = dt.datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)
    assert issued.headers["Cache-Control"] == "no-store"
    audit = session.scalar(select(AuditLog).where(AuditLog.action == "enrolment_code.issue"))
    assert (audit.actor_type, audit.actor_id, audit.commune_code) == (
        "user", "can.bo.dienha", "12619")

    # a second code for the same collaborator, by id, in another area of the commune: refused
    collaborator_id = doc["collaborator"]["id"]
    moved = client.post(CODES, json={"area_code": AREA_SAME_COMMUNE,
                                     "collaborator_id": collaborator_id})
    assert error_code(moved) == "collaborator_area_mismatch"
    again = client.post(CODES, json={"area_code": AREA, "collaborator_id": collaborator_id})
    assert again.status_code == 201 and again.get_json()["code"] != doc["code"]
    # another commune's officer cannot see this collaborator
    other = app.test_client()
    login(other, place.other_staff_id)
    hidden = other.post(CODES, json={"area_code": AREA_OTHER_COMMUNE,
                                     "collaborator_id": collaborator_id})
    assert hidden.status_code == 404 and error_code(hidden) == "collaborator_unknown"
    for bad in ({"area_code": AREA}, {"area_code": AREA, "collaborator_name": "A",
                                      "collaborator_id": collaborator_id},
                {"collaborator_name": "A"}, {**body, "ttl": 99}):
        response = client.post(CODES, json=bad)
        assert response.status_code == 400 and error_code(response) == "request_malformed", bad
    empty_name = client.post(CODES, json={"area_code": AREA, "collaborator_name": "  "})
    assert error_code(empty_name) == "field_required"


def test_inactive_staff_is_logged_out(app: Flask, session, place: Place) -> None:
    client = app.test_client()
    login(client, place.staff_id)
    session.get(User, place.staff_id).active = False
    session.commit()
    response = client.post(CODES, json={"area_code": AREA, "collaborator_name": "Lan"})
    assert response.status_code == 401 and error_code(response) == "login_required"


def test_inactive_collaborator_cannot_enrol(app: Flask, session, place: Place) -> None:
    code = new_code(session)
    session.scalar(select(Collaborator)).active = False
    session.commit()
    response = app.test_client().post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
    assert response.status_code == 400 and error_code(response) == "collaborator_inactive"
    assert count(session, Device) == 0


# --------------------------------------------------------------------- CLI


def test_cli_lists_and_revokes_devices(app: Flask, session, place: Place,
                                       tmp_path: Path) -> None:
    client = app.test_client()
    ids = []
    for area in (AREA, AREA_OTHER_COMMUNE):
        code = new_code(session, area=area, name=f"CTV {area}")
        ids.append(client.post(ENROL, json=enrol_body(code, DeviceKeys.generate()))
                   .get_json()["device_id"])
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["devices", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["device_id"] for r in rows} == set(ids)
    assert all("sign_public_key" not in r and r["status"] == "active" for r in rows)
    one = json.loads(runner.invoke(args=["devices", "list", "--commune", "11953", "--json"]
                                   ).output)
    assert [r["device_id"] for r in one] == [ids[1]]

    revoked = runner.invoke(args=["devices", "revoke", ids[0]])
    assert revoked.exit_code == 0, revoked.output
    session.expire_all()
    assert session.get(Device, ids[0]).revoked
    text_list = runner.invoke(args=["devices", "list"]).output
    assert "revoked" in text_list and "CTV 12619.01.1" in text_list
    for verb in ("revoke", "reinstate"):  # says which device, and where the ids are
        unknown = runner.invoke(args=["devices", verb, "nope"])
        assert unknown.exit_code == 2 and "device_id_unknown: Không có máy nào mã nope" in \
            unknown.output and "a0sync devices list" in unknown.output, unknown.output


def test_cli_enroll_refusals(app: Flask, session, place: Place) -> None:
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["enroll", "--area", "99999.01.1", "--collaborator", "Lan"])
    assert unknown.exit_code == 2 and "area_unknown" in unknown.output
    both = runner.invoke(args=["enroll", "--area", AREA])
    assert both.exit_code != 0 and "exactly one" in both.output
    missing = runner.invoke(args=["enroll", "--area", AREA, "--collaborator-id", "999"])
    assert missing.exit_code == 2 and "collaborator_unknown" in missing.output
    assert count(session, EnrolmentCode) == 0
    ok = runner.invoke(args=["enroll", "--area", AREA, "--collaborator", "Lan",
                             "--ttl-hours", "2"])
    assert ok.exit_code == 0, ok.output
    collaborator_id = session.scalar(select(Collaborator.id))
    second = runner.invoke(args=["enroll", "--area", AREA, "--collaborator-id",
                                 str(collaborator_id)])
    assert second.exit_code == 0, second.output
    assert count(session, Collaborator) == 1 and count(session, EnrolmentCode) == 2


def test_villages_come_by_name_with_the_areas_own_first(app: Flask, session,
                                                         place: Place) -> None:
    from server.orgunits.queries import villages_for_area

    assert [v["code"] for v in villages_for_area(session, AREA_SAME_COMMUNE)] == [
        "12619.02", "12619.01"]
    assert [v["code"] for v in villages_for_area(session, AREA_OTHER_COMMUNE)] == ["11953.01"]
    assert villages_for_area(session, "99999.01.1") == []
