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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import get_locale, lazy_gettext

from a0core.errors import A0Error
from a0core.op_states import VERDICTS, state_word
from server.extensions import db
from server.security import audit
from server.security.scope import VIEW_SYNC, Scope
from server.security.session import current_scope, current_user
from server.web.http import commit_read
from server.web.queries.paging import DEFAULT_PER_PAGE, clamp

# templates and the stylesheet live in server/web/, shared by every dashboard blueprint
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard",
               template_folder="../templates", static_folder="../static")

# refusal code → HTTP status on HTML pages (JSON APIs keep server.web.errors.STATUS)
STATUS = {"forbidden": 403, "not_found": 404, "device_unknown": 404,
          "collaborator_unknown": 404, "login_failed": 401, "login_throttled": 429,
          "totp_invalid": 401, "totp_pending_expired": 401, "csrf_invalid": 400,
          "conflict_closed": 409, "batch_too_large": 413, "device_revoked": 403,
          "orgunit_unknown": 404, "province_unknown": 404}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any           # a lazy_gettext string
    action: str = VIEW_SYNC
    order: int = 100
    # a cue: how many things wait on that page for this scope (open conflicts…), and
    # what the number means, for a screen reader and a hover
    count: Callable[[Scope], int] | None = None
    count_label: Any = None


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: Any
    count: int = 0
    count_label: Any = None


NAV: list[NavItem] = []


def add_nav(endpoint: str, label: Any, action: str = VIEW_SYNC, order: int = 100, *,
            count: Callable[[Scope], int] | None = None, count_label: Any = None) -> None:
    """Show ``endpoint`` in the menu to users whose scope ``may(action)``; ``count``,
    when given, is shown beside the label when it is not zero (keep it one indexed
    query: it runs on every page)."""
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, action, order, count, count_label))
        NAV.sort(key=lambda item: (item.order, item.endpoint))


def nav_items() -> list[NavEntry]:
    """The menu of the logged-in user, with its counts (once per request)."""
    if "a0_nav" not in g:
        current = current_scope()
        g.a0_nav = [NavEntry(item.endpoint, item.label,
                             item.count(current) if item.count else 0, item.count_label)
                    for item in NAV if current.may(item.action)]
    return g.a0_nav


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
    """The refusal's text in the page's language (codes stay visible for support); a
    record that failed its form says which fields and why, not only how many."""
    english = str(get_locale()) == "en"
    text = error.en if english else error.vi
    inner = [e.en if english else e.vi for e in getattr(error, "errors", ())]
    return f"{text}: {'; '.join(inner)}" if inner else text


def error_page(error: A0Error, status: int | None = None):
    db.session.rollback()
    status = status or STATUS.get(error.code, 400)
    return render_template("error.html", error=error, text=message(error)), status


@dataclass(frozen=True)
class Refused:
    """A form refused for what was typed in it: its page comes back (400) with the
    refusal beside that form (``form``: which one of the page's) and the values as typed."""
    form: str
    error: A0Error
    values: dict[str, str]


def refused_form(error: A0Error, form: str) -> Refused | None:
    """``error`` as a refusal of what was typed into ``form`` (nothing written: the
    transaction is rolled back); ``None`` when there is no form to go back to (out of
    scope, unknown, closed meanwhile: :func:`error_page`)."""
    if STATUS.get(error.code, 400) != 400:
        return None
    db.session.rollback()
    return Refused(form, error, {k: v[:200] for k, v in request.form.items()
                                 if k not in ("csrf_token", "form")})


def audit_page(action: str, records: Iterable[str], commune: str | None = None) -> None:
    """A page showing person-level records was read: one audit row saying how many and
    which (``a0sync person report`` finds a person's readers by id), committed before
    the page is rendered; a HEAD request shows nothing and writes nothing."""
    shown = list(dict.fromkeys(records))
    where = scope()
    audit.record(db.session, where.actor, action, target=request.full_path.rstrip("?")[:200],
                 province_code=where.code if where.level == "province" else None,
                 commune_code=commune or (where.code if where.level == "commune" else None),
                 ip=request.remote_addr, row_count=len(shown), details={"records": shown})
    commit_read(db.session)


def not_found() -> A0Error:
    return A0Error("not_found")


def require(found: Any) -> Any:
    """``found``, or a 404 page: what is out of scope looks exactly like what is absent."""
    if found is None:
        raise not_found()
    return found


def template_context() -> dict[str, Any]:
    user = current_user()
    lang = str(get_locale())
    nav = nav_items() if user is not None else []
    return {"current_user": user, "nav": nav, "nav_attention": sum(n.count for n in nav),
            "lang": lang, "err_text": message,
            "title_app": lazy_gettext("Sổ A0 điện tử"),
            # where an operation stands, in the words the app uses too
            "op_state": lambda code: state_word(code, lang), "verdict_codes": VERDICTS}


def install(blueprint: Blueprint) -> None:
    """HTML refusal pages for a dashboard blueprint (call once, at import, before the
    blueprint is registered; security headers are the app's: :mod:`server.web.http`)."""
    blueprint.register_error_handler(A0Error, lambda error: error_page(error))


install(bp)
