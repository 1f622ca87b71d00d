"""Builders of valid register records for tests, and a snapshot of the server's register."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy import func, select

from server.extensions import db
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import Conflict, SyncBatch, SyncOp


def new_id() -> str:
    return str(uuid.uuid4())


_SYLLABLES = ["An", "Bình", "Cúc", "Dũng", "Đào", "Giang", "Hà", "Khánh", "Lâm", "Minh",
              "Ngọc", "Oanh", "Phúc", "Quyên", "Sơn", "Thảo", "Uyên", "Vân", "Xuân", "Yến"]
_names = itertools.count(1)


def unique_name() -> str:
    """A different Vietnamese-looking name on every call: tests that make many people
    in one commune should not build one giant duplicate block by accident."""
    n, parts = next(_names), []
    while n:
        n, digit = divmod(n, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return " ".join(["Trần", *parts[::-1]])


def household(area: str, number: str = "1") -> dict[str, Any]:
    return {"area_code": area, "number": number, "address": "Thôn Đông"}


def member(household_id: str, name: str = "Trần Thị Lan", sex: str = "female",
           born: str = "1990-04-02", relation: str = "head") -> dict[str, Any]:
    return {"household_id": household_id, "full_name": name, "relation": relation, "sex": sex,
            "birth_date": born, "ethnicity": "kinh", "marital_status": "married",
            "residence_status": "present"}


def birth(household_id: str, mother_id: str, day: str = "2025-06-01",
          order: int = 2) -> dict[str, Any]:
    return {"id": new_id(), "household_id": household_id, "member_id": mother_id,
            "event_date": day, "child_id": new_id(), "sex": "male", "birth_order": order,
            "place_of_birth": "hospital"}


def distribution(area: str, household_id: str, day: str = "2025-06-03") -> dict[str, Any]:
    return {"id": new_id(), "area_code": area, "household_id": household_id,
            "method": "condom", "quantity": 10, "distributed_on": day}


def counts() -> dict[str, int]:
    """Row counts of everything a batch can write: 'nothing changed' compares these."""
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Household, Member, Event, Distribution, SyncOp, SyncBatch, Conflict)}


def snapshot(area: str | None = None) -> dict[str, Any]:
    """The register's content (not its bookkeeping), for comparing replicas."""
    def where(model):
        return model.area_code == area if area else True

    out: dict[str, Any] = {}
    for model in (Household, Member):
        for row in db.session.scalars(select(model).where(where(model))):
            out[row.id] = {"data": row.data, "deleted": row.deleted}
    for row in db.session.scalars(select(Event).where(where(Event))):
        out[row.id] = {"form": row.form, "record": row.payload, "voided": row.voided}
    for row in db.session.scalars(select(Distribution).where(where(Distribution))):
        out[row.id] = {"voided": row.voided, "quantity": row.quantity}
    return out
