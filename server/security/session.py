"""The logged-in web user, for JSON endpoints (the Flask side of :mod:`server.security.users`).

The login form, CSRF tokens, TOTP and login throttling come with the dashboard;
this module only knows that ``flask.session["user_id"]`` names the user and that
an inactive or deleted user is nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session

from a0core.errors import A0Error
from server.extensions import db
from server.models.people import User
from server.security.scope import Scope

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "user_id"


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
        user_id = session.get(SESSION_KEY)
        user = db.session.get(User, user_id) if type(user_id) is int else None
        cache["user"] = user if user is not None and user.active else None
    return cache["user"]


def current_scope() -> Scope:
    """What the current user may see (nothing when nobody is logged in)."""
    cache = _cache()
    if "scope" not in cache:
        user = current_user()
        cache["scope"] = Scope.for_user(db.session, user) if user is not None \
            else Scope.none("anonymous")
    return cache["scope"]


def login_user(user: User) -> None:
    """Start a fresh session for ``user`` (a new session, so a planted one is useless)."""
    session.clear()
    session[SESSION_KEY] = user.id
    _cache().clear()


def logout_user() -> None:
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
