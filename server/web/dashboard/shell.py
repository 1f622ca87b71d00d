"""What every dashboard page shares: the blueprint, navigation, access checks, paging
arguments and error pages. New pages (roll-ups, duplicates, exports) plug in here:

* add views to :data:`bp` (endpoint ``dashboard.<name>``, under ``/dashboard``) in a
  module imported by :func:`server.web.dashboard.init_app`, or to a blueprint of
  their own whose name starts with ``dashboard`` (``bench/web.py`` times the GET
  pages of those);
* decorate each view with :func:`staff_page` (login + ``Scope.may(action)``),
  read the scope with :func:`scope`, page with :func:`page_args` and
  :mod:`server.web.queries.paging`;
* list the page in the menu with :func:`add_nav`;
* templates extend ``layout.html`` and use the macros of ``macros.html``
  (``pager``, ``commune_filter``, ``when``, ``err``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale, lazy_gettext

from a0core.errors import A0Error
from server.extensions import db
from server.security.scope import VIEW_SYNC, Scope
from server.security.session import current_scope, current_user
from server.web.queries.paging import DEFAULT_PER_PAGE, clamp

# templates and the stylesheet live in server/web/, shared by every dashboard blueprint
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard",
               template_folder="../templates", static_folder="../static")

# refusal code → HTTP status on HTML pages (JSON APIs keep server.web.errors.STATUS)
STATUS = {"forbidden": 403, "not_found": 404, "device_unknown": 404,
          "collaborator_unknown": 404, "login_failed": 401, "login_throttled": 429,
          "totp_invalid": 401, "totp_pending_expired": 401, "csrf_invalid": 400,
          "conflict_closed": 409, "batch_too_large": 413, "device_revoked": 403}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any           # a lazy_gettext string
    action: str = VIEW_SYNC
    order: int = 100


NAV: list[NavItem] = []


def add_nav(endpoint: str, label: Any, action: str = VIEW_SYNC, order: int = 100) -> None:
    """Show ``endpoint`` in the menu to users whose scope ``may(action)``."""
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, action, order))
        NAV.sort(key=lambda item: (item.order, item.endpoint))


def nav_items() -> list[NavItem]:
    current = current_scope()
    return [item for item in NAV if current.may(item.action)]


def scope() -> Scope:
    """The logged-in user's scope; every dashboard query filters with ``scope().where``."""
    return current_scope()


def page_args(per_page: int = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """``?page=&per_page=`` from the request, clamped."""
    return clamp(request.args.get("page", 1), request.args.get("per_page", per_page))


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to after login (never another site)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def staff_page(action: str = VIEW_SYNC) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for logged-in staff whose scope may do ``action``; others get the login
    page (not logged in) or 403 (logged in, wrong role)."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user() is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not scope().may(action):
                raise A0Error("forbidden")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def message(error: A0Error) -> str:
    """The refusal's text in the page's language (codes stay visible for support)."""
    return error.en if str(get_locale()) == "en" else error.vi


def error_page(error: A0Error, status: int | None = None):
    db.session.rollback()
    status = status or STATUS.get(error.code, 400)
    return render_template("error.html", error=error, text=message(error)), status


def not_found() -> A0Error:
    return A0Error("not_found")


def require(found: Any) -> Any:
    """``found``, or a 404 page: what is out of scope looks exactly like what is absent."""
    if found is None:
        raise not_found()
    return found


def template_context() -> dict[str, Any]:
    user = current_user()
    return {"current_user": user, "nav": nav_items() if user is not None else [],
            "lang": str(get_locale()), "err_text": message,
            "title_app": lazy_gettext("Sổ A0 điện tử")}


def when(value: Any) -> str:
    """A stored UTC time in Vietnam's time zone (naive values from SQLite are UTC)."""
    if value is None:
        return ""
    return format_datetime(value, "yyyy-MM-dd HH:mm")


def security_headers(response):
    """No external resources, no scripts, no framing; personal data never cached."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint and not request.endpoint.endswith("static"):
        response.headers["Cache-Control"] = "no-store"
    return response


def install(blueprint: Blueprint) -> None:
    """HTML refusal pages and security headers for a dashboard blueprint (call once,
    at import, before the blueprint is registered)."""
    blueprint.register_error_handler(A0Error, lambda error: error_page(error))
    blueprint.after_request(security_headers)


install(bp)
