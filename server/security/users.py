"""Web users: creation with the checks that keep scope sound, and password login. No Flask.

A user's role fixes the level of the org unit it is bound to (commune staff to a
commune, district staff to a district, province staff to a province;
administrators to nothing or to any unit): :class:`~server.security.scope.Scope`
gives a user whose unit does not match its role no access at all, so such an
account is refused here rather than created useless.

Login throttling, lock-out, TOTP and the audit of logins belong to the
dashboard's login flow, on top of :func:`authenticate`.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.orgunits import (
    LEVEL_COMMUNE,
    LEVEL_DISTRICT,
    LEVEL_PROVINCE,
    OrgGroup,
    OrgUnit,
)
from server.models.people import (
    ROLE_ADMIN,
    ROLE_COMMUNE,
    ROLE_DISTRICT,
    ROLE_PROVINCE,
    ROLES,
    User,
)
from server.orgunits.groups import former_district
from server.orgunits.queries import unit_by_code
from server.security import audit, passwords
from server.security.web_sessions import end_sessions_of

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MAX_FULL_NAME = 120

# role → (unit level, words for the messages: the role, the level)
ROLE_UNIT_LEVEL = {
    ROLE_COMMUNE: (LEVEL_COMMUNE, "cán bộ xã", "commune staff", "cấp xã", "commune"),
    ROLE_DISTRICT: (LEVEL_DISTRICT, "cán bộ huyện", "district staff", "cấp huyện", "district"),
    ROLE_PROVINCE: (LEVEL_PROVINCE, "cán bộ tỉnh", "province staff", "cấp tỉnh", "province"),
}


def normalise_username(username: object) -> str | None:
    """Usernames are case-insensitive: stored and looked up in lower case."""
    if not isinstance(username, str):
        return None
    name = username.strip().lower()
    return name if USERNAME_RE.match(name) else None


def find_user(session: Session, username: object) -> User | None:
    name = normalise_username(username)
    if name is None:
        return None
    return session.scalar(select(User).where(func.lower(User.username) == name))


def create_user(session: Session, username: str, full_name: str, password: str, role: str,
                org_unit_code: str | None, person_access: bool = False, *,
                created_by: str = "cli", group_code: str | None = None) -> User:
    """Create an active web user; refuses with a precise code, changes nothing then.

    ``group_code``: province staff limited to a group of communes — a former district,
    after the 2025 reform (``org_group``); the district level no longer exists, so
    district staff of a former district are made so (``district_role_replaced`` says
    how when one is asked for)."""
    name, full, unit, group = check_new_user(session, username, full_name, role,
                                             org_unit_code, group_code)
    password_hash = passwords.hash_password(password)  # raises password_weak
    if group is not None and group.id is None:  # the first account of a lineage-made group
        session.add(group)
        session.flush()
    user = User(username=name, full_name=full, password_hash=password_hash, role=role,
                org_unit_id=unit.id if unit is not None else None,
                group_id=group.id if group is not None else None,
                person_access=bool(person_access), active=True, failed_logins=0)
    session.add(user)
    session.flush()
    audit.record(session, created_by, "user.create", target=f"user:{name}",
                 province_code=unit.province_code if unit is not None else None,
                 commune_code=unit.commune_code if unit is not None else None,
                 details={"role": role, "org_unit": unit.code if unit is not None else None,
                          "group": group.code if group is not None else None,
                          "person_access": bool(person_access)})
    return user


def check_new_user(session: Session, username: str, full_name: str, role: str,
                   org_unit_code: str | None, group_code: str | None = None
                   ) -> tuple[str, str, OrgUnit | None, OrgGroup | None]:
    """Everything :func:`create_user` checks but the password, writing nothing: the
    command line asks for a password only once the rest is right."""
    name = normalise_username(username)
    if name is None:
        raise A0Error("username_invalid")
    full = " ".join(full_name.split()) if isinstance(full_name, str) else ""
    if not full:
        raise A0Error("field_required", field="full_name", label_vi="Họ tên",
                      label_en="Full name")
    if len(full) > MAX_FULL_NAME:
        raise A0Error("field_too_long", field="full_name", label_vi="Họ tên",
                      label_en="Full name", max_length=MAX_FULL_NAME)
    if role not in ROLES:
        raise A0Error("role_unknown", record=str(role)[:40])
    unit = None
    if org_unit_code is not None:
        unit = unit_by_code(session, org_unit_code)
        if unit is None and role == ROLE_DISTRICT:
            group = former_district(session, str(org_unit_code)[:32])
            if group is not None:
                raise A0Error("district_role_replaced", record=group.code,
                              province=group.province_code)
        if unit is None or not unit.active:
            raise A0Error("orgunit_unknown", record=str(org_unit_code)[:40])
    if role == ROLE_ADMIN:
        if org_unit_code is not None or group_code is not None:
            raise A0Error("admin_unit_refused")  # it would read as a scope it is not
    else:
        level, role_vi, role_en, level_vi, level_en = ROLE_UNIT_LEVEL[role]
        if unit is None or unit.level != level:
            raise A0Error("role_unit_mismatch", role=role, role_vi=role_vi, role_en=role_en,
                          level_vi=level_vi, level_en=level_en)
    group = None
    if group_code is not None:
        group = former_district(session, str(group_code)[:32])
        if role != ROLE_PROVINCE or unit is None or group is None \
                or group.province_code != unit.code:
            raise A0Error("group_unknown", record=str(group_code)[:32])
    if find_user(session, name) is not None:
        raise A0Error("username_taken", record=name)
    return name, full, unit, group


def set_password(session: Session, user: User, password: str, *, by: str) -> None:
    """Replace a user's password (checked for strength) and end the user's sessions
    (whoever knew the old one is out); audited."""
    user.password_hash = passwords.hash_password(password)
    end_sessions_of(session, user.id)
    audit.record(session, by, "user.set_password", target=f"user:{user.username}")


def reset_totp(session: Session, user: User, *, by: str) -> None:
    """Clear a user's TOTP secret (a lost phone) and end the user's sessions; audited."""
    user.totp_secret = None
    end_sessions_of(session, user.id)
    audit.record(session, by, "user.totp_reset", target=f"user:{user.username}")


def set_active(session: Session, user: User, active: bool, *, by: str) -> None:
    """Deactivate a user (staff who left: sessions and API tokens stop at once), or
    activate one again; audited."""
    user.active = active
    if not active:
        end_sessions_of(session, user.id)
    audit.record(session, by, "user.activate" if active else "user.deactivate",
                 target=f"user:{user.username}")


def authenticate(session: Session, username: object, password: object) -> User | None:
    """The active user with this username and password, or ``None``.

    An unknown or inactive user costs the same argon2 work as a wrong password,
    so timing does not tell which usernames exist. A hash made with outdated
    parameters is upgraded in the caller's transaction.
    """
    user = find_user(session, username)
    if user is None or not user.active:
        passwords.burn()
        return None
    if not passwords.verify_password(user.password_hash, password):
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.rehash(password)  # type: ignore[arg-type]
    return user
