"""The dashboard test world plus a synthetic commune (00004) and roll-ups of 2025."""

from __future__ import annotations

from flask import Flask

from server.extensions import db
from server.rollups.jobs import full_recompute, month_range
from tests.support.web import World, build_world, load_synthetic_commune

MONTHS = month_range("2025-01", "2025-12")


def rollup_world(app: Flask, households: int = 25) -> World:
    world = build_world(app)
    load_synthetic_commune("00004", households=households)
    full_recompute(db.session, MONTHS)
    return world
