"""Liveness, and the landing page: nothing but the way to log in without a session."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from sqlalchemy import text

from server.extensions import db
from server.models.base import end_read
from server.security.session import current_user
from server.sync.followups import backlog

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process, its database and the queue of work after batches (a growing
    backlog or failed rows need an administrator: ``a0sync followups``). A database
    that does not answer gives a 503 with ``database_unavailable`` (server.web.outage)."""
    db.session.execute(text("SELECT 1"))
    follow_ups = backlog(db.session)
    end_read(db.session)
    return jsonify(status="ok", database="ok", follow_ups=follow_ups)


@bp.get("/")
def landing():
    """The dashboard for a logged-in user; the login form for anyone else (what the
    server holds is shown only within a user's scope)."""
    if current_user() is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("dashboard.sync_status"))
