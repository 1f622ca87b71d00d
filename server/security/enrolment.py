"""Device enrolment and revocation (docs/protocol.md, "Enrolment"; DESIGN §6). No Flask.

Commune staff issue a one-time code for one collaborator and one area
(:func:`issue_code`); the app sends it with its two public keys and gets its
device id and the server key back (:func:`enrol_device`); staff revoke a device
at once (:func:`revoke_device`), and every later signed request of it is refused
(:func:`authenticate_request`); a revocation can be reversed
(:func:`reinstate_device`). Failed enrolments are counted and throttled like
logins (:func:`refuse_if_throttled_enrolment`, :func:`record_failed_enrolment`).

The code's alphabet and spelling are in ``a0core/enrol_uri.py``, with the link its
QR code carries, so that the app checks a scanned code by the same rules.

Why a code cannot be guessed: 10 characters from a 31-letter alphabet are about
49 bits; a code is valid 24 hours and spent by its first use, so even a million
guesses a second for a day would hit a live code with a chance of about 2^-13
per outstanding code. Only the SHA-256 of the normalised code is stored, so a
database reader learns nothing usable once the code is spent or expired. Hashes
are compared in constant time.

A device whose answer was lost may send the same request again: the code then
answers the same device id, because the hash of the public keys it was spent
with is kept in ``used_with``. Any other reuse is refused.

Every function here adds to the caller's transaction and never commits; each
issue, enrolment and revocation writes an audit row in that same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from a0core.enrol_uri import ALPHABET, CODE_LENGTH, format_code, normalise_code
from a0core.envelope import (
    KEY_BYTES,
    ServerPublicKey,
    b64d,
    ed25519_public,
    request_device,
    verify_request,
    x25519_public,
)
from a0core.errors import A0Error
from a0core.hlc import HybridClock, wall_ms
from a0core.names import fold
from server.models.accounts import LoginAttempt
from server.models.base import utcnow
from server.models.orgunits import LEVEL_AREA, OrgUnit
from server.models.people import Collaborator, Device, EnrolmentCode
from server.models.sync import DeviceSync
from server.orgunits.queries import unit_by_code, villages_for_area
from server.security import audit
from server.security.login import Policy, refuse_if_throttled
from server.security.scope import AREA, Scope
from server.sync.clock import check_ahead

MAX_TTL = dt.timedelta(hours=72)
DEFAULT_TTL = dt.timedelta(hours=24)
MAX_LABEL = 120
MAX_NAME = 120
MAX_PHONE = 20
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 .-]{5,19}$")
_KEYS_CONTEXT = b"a0sync/v1/enrol-keys\n"


# ----------------------------------------------------------------------- codes


def generate_code() -> str:
    """A fresh random code, normalised (10 letters, no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def code_hash(code: str) -> str:
    """SHA-256 hex of the normalised code: the only form the database keeps."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def keys_hash(sign_public_key: str, box_public_key: str) -> str:
    """What ``used_with`` holds: a retry with the same keys gets the same answer."""
    data = _KEYS_CONTEXT + sign_public_key.encode("ascii") + b"\n" + box_public_key.encode("ascii")
    return hashlib.sha256(data).hexdigest()


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------ validation


def _clean_text(value: Any, field: str, label_vi: str, label_en: str, max_length: int,
                required: bool = True) -> str | None:
    labels = {"field": field, "label_vi": label_vi, "label_en": label_en}
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise A0Error("field_required", **labels)
        return None
    if not isinstance(value, str):
        raise A0Error("field_type", **labels)
    text = " ".join(value.split())
    if len(text) > max_length:
        raise A0Error("field_too_long", max_length=max_length, **labels)
    return text


def _clean_phone(value: Any) -> str | None:
    phone = _clean_text(value, "phone", "Số điện thoại", "Phone number", MAX_PHONE,
                        required=False)
    if phone is not None and not _PHONE_RE.match(phone):
        raise A0Error("field_pattern", field="phone", label_vi="Số điện thoại",
                      label_en="Phone number")
    return phone


def check_public_keys(sign_public_key: Any, box_public_key: Any) -> None:
    """Well-formed base64url 32-byte keys that the server can actually use.

    An X25519 key of low order would make every pull page to the device fail
    (the shared secret is all zeros), so it is refused here, at the door.
    """
    for field, value, load in (("sign_public_key", sign_public_key, ed25519_public),
                               ("box_public_key", box_public_key, x25519_public)):
        try:
            if not isinstance(value, str) or len(b64d(value)) != KEY_BYTES:
                raise ValueError("not a 32-byte base64url key")
            load(value)
        except (ValueError, TypeError):
            raise A0Error("device_key_invalid", field=field) from None
    try:
        X25519PrivateKey.generate().exchange(x25519_public(box_public_key))
    except ValueError:
        raise A0Error("device_key_invalid", field="box_public_key") from None


# ----------------------------------------------------------------- look-ups


def area_unit(session: Session, area_code: Any) -> OrgUnit:
    """The active collaborator area ``area_code`` of the current tree, or ``area_unknown``."""
    unit = unit_by_code(session, area_code) if isinstance(area_code, str) and area_code else None
    if unit is None or not unit.active or unit.level != LEVEL_AREA:
        raise A0Error("area_unknown", record=str(area_code)[:40])
    return unit


def find_collaborator(session: Session, collaborator_id: Any, scope: Scope) -> Collaborator:
    """A collaborator the actor may see; one outside the scope is as good as absent."""
    found = None
    if type(collaborator_id) is int and 0 < collaborator_id < 2**31:
        found = session.get(Collaborator, collaborator_id)
    if found is None or not scope.covers(found.province_code, found.commune_code,
                                         found.area_code):
        raise A0Error("collaborator_unknown", record=str(collaborator_id)[:20])
    return found


def _names(session: Session, *codes: str) -> list[dict[str, str]]:
    out = []
    for code in codes:
        unit = unit_by_code(session, code)
        out.append({"code": code, "name": unit.full_name if unit is not None else code})
    return out


def device_profile(session: Session, device: Device) -> dict[str, Any]:
    """Who and where a device works for (the common part of the enrolment answer)."""
    area, commune, province = _names(session, device.area_code, device.commune_code,
                                     device.province_code)
    collaborator = device.collaborator
    return {"device_id": device.id,
            "collaborator": {"id": collaborator.id, "full_name": collaborator.full_name},
            "area": area, "commune": commune, "province": province,
            "villages": villages_for_area(session, device.area_code)}


# ------------------------------------------------------------------- issue


def namesakes(session: Session, commune_code: str | None, name: str) -> list[Collaborator]:
    """Active collaborators of the commune whose name folds to the same as ``name``
    (diacritics, đ/d, case and spacing aside): probably the same person."""
    wanted = fold(name)
    return [c for c in session.scalars(select(Collaborator).where(
        Collaborator.commune_code == commune_code, Collaborator.active)
        .order_by(Collaborator.id)) if fold(c.full_name) == wanted]


def new_collaborator(session: Session, unit: OrgUnit, name: Any, phone: Any,
                     new_person: bool = False, now: dt.datetime | None = None) -> Collaborator:
    """A new collaborator for area ``unit``. A collaborator is a person with an id: a
    name already working in the commune is refused (``collaborator_exists``, naming
    them) unless ``new_person`` confirms that this is someone else."""
    clean = _clean_text(name, "collaborator_name", "Họ tên cộng tác viên",
                        "Collaborator's name", MAX_NAME)
    phone = _clean_phone(phone)
    same = namesakes(session, unit.commune_code, clean or "")
    if same and not new_person:
        raise A0Error("collaborator_exists", record=same[0].id, matches="; ".join(
            f"#{c.id} {c.full_name} ({c.area_code})" for c in same[:5]))
    collaborator = Collaborator(full_name=clean, phone=phone, area_code=unit.code,
                                commune_code=unit.commune_code,
                                province_code=unit.province_code, created_at=now or utcnow())
    session.add(collaborator)
    session.flush()
    return collaborator


def issue_code(session: Session, *, area_code: str, collaborator: Collaborator | None = None,
               collaborator_name: str | None = None, phone: str | None = None,
               created_by: str, scope: Scope, ttl: dt.timedelta = DEFAULT_TTL,
               now: dt.datetime | None = None, new_person: bool = False
               ) -> tuple[str, EnrolmentCode]:
    """Issue a one-time code binding a new device to one collaborator and one area.

    Give either an existing ``collaborator`` (who must work in that area) or a
    ``collaborator_name`` (a new collaborator is created for the area, unless the
    name is already taken in the commune: :func:`new_collaborator`). Returns the
    code as shown to people (``ABCD-EFGH-JK``; it is not stored) and the row.
    """
    if (collaborator is None) == (collaborator_name is None):
        raise ValueError("give exactly one of collaborator and collaborator_name")
    if not dt.timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ValueError(f"an enrolment code lives between 1 minute and {MAX_TTL}")
    now = now or utcnow()
    unit = area_unit(session, area_code)
    if not scope.covers_unit(unit) or scope.level == AREA:
        raise A0Error("forbidden")
    created = collaborator is None
    if collaborator is None:
        collaborator = new_collaborator(session, unit, collaborator_name, phone, new_person,
                                        now)
    else:
        if not scope.covers(collaborator.province_code, collaborator.commune_code,
                            collaborator.area_code):
            raise A0Error("forbidden")
        if not collaborator.active:
            raise A0Error("collaborator_inactive", record=collaborator.id)
        if collaborator.area_code != unit.code:
            raise A0Error("collaborator_area_mismatch", record=collaborator.id,
                          area=collaborator.area_code)

    code = generate_code()
    while session.get(EnrolmentCode, code_hash(code)) is not None:  # 2^-49: never, but cheap
        code = generate_code()
    row = EnrolmentCode(code_hash=code_hash(code), collaborator_id=collaborator.id,
                        area_code=unit.code, commune_code=unit.commune_code,
                        province_code=unit.province_code, created_by=created_by[:80],
                        created_at=now, expires_at=now + ttl)
    session.add(row)
    audit.record(session, created_by, "enrolment_code.issue",
                 target=f"collaborator:{collaborator.id}", province_code=unit.province_code,
                 commune_code=unit.commune_code, at=now,
                 details={"area_code": unit.code, "expires_at": row.expires_at.isoformat(),
                          "collaborator_created": created})
    session.flush()
    return format_code(code), row


# ------------------------------------------------------------------- enrol

ENROL_STEP = "enrol"


def attempt_key(code: Any) -> str:
    """What failed enrolments are counted under beside the address (the login
    attempts' ``username``): the code tried, hashed, so a code attacked from many
    addresses is throttled too."""
    normalised = normalise_code(code) if isinstance(code, str) else None
    text = normalised or (code[:64] if isinstance(code, str) else "")
    return "enrol:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def refuse_if_throttled_enrolment(session: Session, code: Any, ip: str, policy: Policy,
                                  now: dt.datetime | None = None) -> None:
    """``enrol_throttled`` (audited; the caller commits) while this address or this code
    has failed too often: the login limits, counted on the same table."""
    refuse_if_throttled(session, attempt_key(code), ip, now or utcnow(), policy,
                        code="enrol_throttled", action="device.enrol_throttled")


def record_failed_enrolment(session: Session, code: Any, ip: str, error: A0Error,
                            now: dt.datetime | None = None) -> None:
    """Count and audit a refused enrolment (after the refused work was rolled back)."""
    now = now or utcnow()
    key = attempt_key(code)
    session.add(LoginAttempt(at=now, username=key, ip=ip[:64], success=False, step=ENROL_STEP))
    audit.record(session, "anonymous", "device.enrol_failure", target=key, ip=ip[:64], at=now,
                 details={"code": error.code})


def enrol_device(session: Session, *, code: Any, sign_public_key: Any, box_public_key: Any,
                 label: Any, server_key: ServerPublicKey, now: dt.datetime | None = None,
                 clock: HybridClock | None = None, device_hlc: Any = None,
                 max_clock_ahead_ms: int = 24 * 3600 * 1000) -> dict[str, Any]:
    """Spend a code for a device's public keys; returns the ``enrol_response.v1`` body.

    Refusals: ``device_key_invalid``, ``request_malformed`` (label),
    ``enrol_code_unknown``, ``enrol_code_used``, ``enrol_code_expired``,
    ``collaborator_inactive``, ``area_unknown``, and ``device_revoked`` for a
    retry whose device was revoked meanwhile. On a refusal the caller rolls back.

    ``device_hlc`` (the device's clock) further ahead than ``max_clock_ahead_ms``
    is refused first (``hlc_future``, with the server's time, so the app can say
    how to set the phone's clock; the code stays unspent). It is absorbed by
    ``clock`` only once the code has proved the request genuine: a stranger must
    not be able to push the server's clock into the future.
    """
    now = now or utcnow()
    if type(device_hlc) is int:  # before the code is spent: set the clock, try again
        check_ahead(device_hlc, wall_ms(), max_clock_ahead_ms)
    check_public_keys(sign_public_key, box_public_key)
    if label is not None and not isinstance(label, str):
        raise A0Error("request_malformed", field="label")
    label_text = " ".join((label or "").split())[:MAX_LABEL] or None
    normalised = normalise_code(code)
    if normalised is None:
        raise A0Error("enrol_code_unknown")
    wanted = code_hash(normalised)
    row = session.scalar(select(EnrolmentCode).where(EnrolmentCode.code_hash == wanted))
    if row is None or not _same(row.code_hash, wanted):
        raise A0Error("enrol_code_unknown")
    used_with = keys_hash(sign_public_key, box_public_key)

    if row.used_at is not None:
        device = session.get(Device, row.device_id) if row.device_id else None
        if device is None or not _same(row.used_with, used_with):
            raise A0Error("enrol_code_used")
        if device.revoked:
            raise A0Error("device_revoked")
        return _answer(session, device, server_key, clock, device_hlc)
    if _utc(row.expires_at) <= now:
        raise A0Error("enrol_code_expired")
    collaborator = session.get(Collaborator, row.collaborator_id)
    if collaborator is None or not collaborator.active:
        raise A0Error("collaborator_inactive", record=row.collaborator_id)
    area_unit(session, row.area_code)

    device_id = str(uuid.uuid4())
    # Spend the code first, conditionally: of two concurrent requests only one
    # finds it unused (the other waits for the row lock, then matches nothing).
    claimed = session.execute(
        update(EnrolmentCode)
        .where(EnrolmentCode.code_hash == wanted, EnrolmentCode.used_at.is_(None))
        .values(used_at=now, device_id=device_id, used_with=used_with)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise A0Error("enrol_code_used")
    session.expire(row)
    device = Device(id=device_id, collaborator_id=collaborator.id, area_code=row.area_code,
                    commune_code=row.commune_code, province_code=row.province_code,
                    sign_public_key=sign_public_key, box_public_key=box_public_key,
                    label=label_text, enrolled_at=now)
    session.add(device)
    session.flush()
    session.add(DeviceSync(device_id=device_id, highest_contiguous_seq=0, max_seq=0, gaps=[],
                           pull_cursor=0, last_clock_skew_ms=0, last_hlc=0))
    audit.record(session, f"device:{device_id}", "device.enrol", target=f"device:{device_id}",
                 province_code=row.province_code, commune_code=row.commune_code, at=now,
                 details={"collaborator_id": collaborator.id, "area_code": row.area_code,
                          "code_issued_by": row.created_by, "label": label_text})
    session.flush()
    return _answer(session, device, server_key, clock, device_hlc)


def _answer(session: Session, device: Device, server_key: ServerPublicKey,
            clock: HybridClock | None, device_hlc: Any) -> dict[str, Any]:
    clock = clock or HybridClock()
    if type(device_hlc) is int and 0 <= device_hlc < 2**63:  # not ahead: checked first
        clock.observe(device_hlc)
    return {**device_profile(session, device), "server_key": server_key.to_dict(),
            "server_hlc": clock.now()}


# ------------------------------------------------------------ revoke, list


def _managed_device(session: Session, device_id: Any, scope: Scope) -> Device:
    """A device the actor may revoke or reinstate: out of scope looks absent
    (``not_found``); devices do not manage devices."""
    device = session.get(Device, device_id) if isinstance(device_id, str) else None
    if device is None or not scope.covers(device.province_code, device.commune_code,
                                          device.area_code):
        raise A0Error("not_found")
    if scope.level == AREA:
        raise A0Error("forbidden")
    return device


def revoke_device(session: Session, device_id: str, *, by: str, scope: Scope,
                  now: dt.datetime | None = None) -> Device:
    """Revoke a device at once; its next request or batch is refused (``device_revoked``).

    A device outside the actor's scope is reported as ``not_found``, like an
    unknown one. Revoking a revoked device changes nothing.
    """
    device = _managed_device(session, device_id, scope)
    if device.revoked_at is None:
        now = now or utcnow()
        device.revoked_at = now
        audit.record(session, by, "device.revoke", target=f"device:{device.id}",
                     province_code=device.province_code, commune_code=device.commune_code,
                     at=now, details={"collaborator_id": device.collaborator_id,
                                      "area_code": device.area_code})
        session.flush()
    return device


def reinstate_device(session: Session, device_id: str, *, by: str, scope: Scope,
                     now: dt.datetime | None = None) -> Device:
    """Reverse a revocation (the phone was found, or revoked by mistake): the device
    syncs again from its next request. Same rights as revoking; audited with when it
    had been revoked. Reinstating an active device changes nothing."""
    device = _managed_device(session, device_id, scope)
    if device.revoked_at is not None:
        audit.record(session, by, "device.reinstate", target=f"device:{device.id}",
                     province_code=device.province_code, commune_code=device.commune_code,
                     at=now or utcnow(),
                     details={"revoked_at": _utc(device.revoked_at).isoformat(),
                              "collaborator_id": device.collaborator_id})
        device.revoked_at = None
        session.flush()
    return device


def list_devices(session: Session, scope: Scope, *, commune_code: str | None = None,
                 include_revoked: bool = True) -> list[Device]:
    """Devices in the actor's scope, newest enrolment first."""
    query = select(Device).where(scope.where(Device))
    if commune_code is not None:
        query = query.where(Device.commune_code == commune_code)
    if not include_revoked:
        query = query.where(Device.revoked_at.is_(None))
    return list(session.scalars(query.order_by(Device.enrolled_at.desc(), Device.id)))


def device_summary(device: Device) -> dict[str, Any]:
    """One device for listings (CLI, dashboard): no keys, just who, where and state."""
    def when(value: dt.datetime | None) -> str | None:
        return _utc(value).isoformat() if value is not None else None

    return {"device_id": device.id, "label": device.label,
            "collaborator": {"id": device.collaborator_id,
                             "full_name": device.collaborator.full_name},
            "area_code": device.area_code, "commune_code": device.commune_code,
            "province_code": device.province_code, "enrolled_at": when(device.enrolled_at),
            "last_seen_at": when(device.last_seen_at), "revoked_at": when(device.revoked_at),
            "status": "revoked" if device.revoked else "active"}


# --------------------------------------------------------- signed requests


def authenticate_request(session: Session, method: str, path_and_query: str, body: bytes,
                         headers: Mapping[str, str]) -> Device:
    """The enrolled, not revoked device that signed this request, or a refusal.

    The signature is checked before the revocation, so only the device itself
    (which holds the key) learns that it was revoked.
    """
    device_id = request_device(headers)
    device = session.get(Device, device_id)
    if device is None:
        raise A0Error("device_unknown")
    verify_request(method, path_and_query, body, headers, device.sign_public_key)
    if device.revoked:
        raise A0Error("device_revoked")
    return device
