"""The logged-in web user (the Flask side of :mod:`server.security.users`).

The login form, CSRF tokens, TOTP and login throttling come with the dashboard.
A login is a :class:`~server.models.accounts.WebSession` row: the signed session
cookie carries its random token (``flask.session["sid"]``), and a request is
logged in only while that row is neither expired nor revoked and its user is
active. So logging out, a new password, a TOTP reset or deactivation end a
session on the server, even where a copy of the cookie survives.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request, session

from a0core.errors import A0Error
from server.extensions import db
from server.models.people import User
from server.security.scope import Scope
from server.security.web_sessions import (
    end_session,
    open_session,
    session_user,
)

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "sid"


def _cache() -> dict[str, Any]:
    """Per-request memo on ``flask.g``.

    ``g`` belongs to the application context, which a request reuses when one
    is already pushed (tests, the CLI): keyed by the request's environ, a user
    looked up for one request is never served to the next.
    """
    if g.get("a0_auth_environ") is not request.environ:
        g.a0_auth_environ = request.environ
        g.a0_auth = {}
    return g.a0_auth


def current_user() -> User | None:
    """The active user of this request's session, or ``None`` (cached for the request)."""
    cache = _cache()
    if "user" not in cache:
        cache["user"] = session_user(db.session, session.get(SESSION_KEY))
    return cache["user"]


def current_scope() -> Scope:
    """What the current user may see (nothing when nobody is logged in)."""
    cache = _cache()
    if "scope" not in cache:
        user = current_user()
        cache["scope"] = Scope.for_user(db.session, user) if user is not None \
            else Scope.none("anonymous")
    return cache["scope"]


def login_user(user: User, ip: str | None = None) -> None:
    """Start a fresh session for ``user`` (a new token, so a planted one is useless);
    the caller commits."""
    session.clear()
    session[SESSION_KEY] = open_session(db.session, user,
                                        current_app.permanent_session_lifetime, ip)
    session.permanent = True
    _cache().clear()


def logout_user() -> None:
    """End this session on the server too; the caller commits."""
    end_session(db.session, session.get(SESSION_KEY))
    session.clear()
    _cache().clear()


def login_required(view: F) -> F:
    """Refuse a JSON request without an active logged-in user (``login_required``, 401)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            raise A0Error("login_required")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
