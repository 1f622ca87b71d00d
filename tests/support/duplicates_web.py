"""Duplicates made the way they arrive in real life, for the dashboard tests: one couple's
household registered twice by a device (the second time his name typed without
diacritics, day and month of birth swapped), sent as a real batch so detection
queues the pairs."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice


@dataclass(frozen=True)
class Twice:
    households: tuple[str, str]   # (first, second registration)
    members: tuple[str, str]
    member_pair: int        # the candidate id of the two member records
    household_pair: int     # …and of their two households


def register_twice(app: Flask, device: SimDevice, name: str = "Nguyễn Văn Hùng",
                   plain: str = "Nguyen Van Hung", fellow: str = "Lê Thị Thu") -> Twice:
    h1, h2, m1, m2 = new_id(), new_id(), new_id(), new_id()
    device.upsert("household", h1, household(device.area, "501"))
    device.upsert("household", h2, household(device.area, "502"))
    device.upsert("member", m1, member(h1, name, "male", "1985-03-04"))
    device.upsert("member", new_id(), member(h1, fellow, "female", "1987-07-07", "spouse"))
    device.upsert("member", m2, member(h2, plain, "male", "1985-04-03"))
    device.upsert("member", new_id(), member(h2, fellow, "female", "1987-07-07", "spouse"))
    device.send(app.test_client(), device.seal())

    def pair(kind: str, a: str, b: str) -> int:
        a, b = sorted((a, b))
        return db.session.scalars(select(DuplicateCandidate.id).where(
            DuplicateCandidate.kind == kind, DuplicateCandidate.a_id == a,
            DuplicateCandidate.b_id == b)).one()

    return Twice((h1, h2), (m1, m2), pair("member", m1, m2), pair("household", h1, h2))
