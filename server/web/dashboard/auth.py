"""Login (password, then TOTP when the user has it), logout, TOTP set-up, language.

Thin handlers over :mod:`server.security.login`. A failed login is recorded
(throttling and audit) and committed before the refusal is shown. A view that
takes both methods writes only on POST: HEAD (Flask answers it with the GET view)
and anything else only read.
"""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext

from a0core.errors import A0Error
from server.extensions import db
from server.models.base import utcnow
from server.security import login as login_flow
from server.security import totp
from server.security.session import current_user, login_user, logout_user
from server.web.dashboard.i18n import COOKIE, LANGUAGES
from server.web.dashboard.shell import error_page, install, message, safe_next

bp = Blueprint("auth", __name__, template_folder="../templates")
PENDING = "totp_pending"     # {"user": id, "at": iso time, "next": path}
NEW_SECRET = "totp_new_secret"
install(bp)


def _ip() -> str:
    return request.remote_addr or "unknown"


def _policy() -> login_flow.Policy:
    return login_flow.policy_from(current_app.config)


def _home() -> str:
    return url_for("dashboard.sync_status")


def _refused(template: str, error: A0Error, **context):
    """Keep the record of the attempt, then show the form again with the refusal."""
    db.session.commit()
    status = {"login_throttled": 429}.get(error.code, 401)
    return render_template(template, error=error, error_text=message(error), **context), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"), _home())
    if request.method != "POST":
        if current_user() is not None:
            return redirect(target)
        return render_template("login.html", next=target)
    username = request.form.get("username", "")
    try:
        user = login_flow.check_password(db.session, username, request.form.get("password", ""),
                                         _ip(), policy=_policy())
    except A0Error as error:
        return _refused("login.html", error, next=target, username=username[:80])
    if user.totp_secret:
        db.session.commit()
        session.clear()
        session[PENDING] = {"user": user.id, "at": utcnow().isoformat(), "next": target}
        return redirect(url_for("auth.login_totp"))
    login_user(user, ip=_ip())
    db.session.commit()  # the attempt and the new session together
    return redirect(target)


@bp.route("/login/totp", methods=["GET", "POST"])
def login_totp():
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return redirect(url_for("auth.login"))
    if request.method != "POST":
        return render_template("login_totp.html")
    try:
        user = login_flow.check_totp(db.session, int(pending["user"]), request.form.get("code"),
                                     _ip(), dt.datetime.fromisoformat(pending["at"]),
                                     totp.box_for(current_app.config), policy=_policy())
    except A0Error as error:
        if error.code == "totp_pending_expired":
            session.pop(PENDING, None)
        return _refused("login_totp.html", error)
    login_user(user, ip=_ip())
    db.session.commit()
    return redirect(safe_next(pending.get("next"), _home()))


@bp.post("/logout")
def logout():
    user = current_user()
    if user is not None:
        from server.security import audit

        audit.record(db.session, f"user:{user.username}", "logout",
                     target=f"user:{user.username}", ip=_ip())
    logout_user()
    db.session.commit()
    return redirect(url_for("auth.login"))


@bp.route("/account/totp", methods=["GET", "POST"])
def account_totp():
    """Turn TOTP on: show a fresh secret as a QR code, enable once a code matches."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    if user.totp_secret:
        if request.method == "POST":
            return error_page(A0Error("forbidden"))
        return render_template("account_totp.html", enabled=True)
    if request.method != "POST" or NEW_SECRET not in session:
        secret = session.get(NEW_SECRET) or totp.new_secret()
        session[NEW_SECRET] = secret
        uri = totp.provisioning_uri(secret, user.username)
        return render_template("account_totp.html", enabled=False, secret=secret,
                               qr=totp.qr_svg(uri))
    secret = session[NEW_SECRET]
    try:
        login_flow.enable_totp(db.session, user, secret, request.form.get("code"),
                               totp.box_for(current_app.config))
    except A0Error as error:
        db.session.rollback()
        return render_template("account_totp.html", enabled=False, secret=secret,
                               qr=totp.qr_svg(totp.provisioning_uri(secret, user.username)),
                               error_text=message(error)), 400
    db.session.commit()
    session.pop(NEW_SECRET, None)
    flash(gettext("Đã bật xác thực hai bước."))
    return redirect(url_for("auth.account_totp"))


@bp.post("/account/totp/disable")
def account_totp_disable():
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    try:
        login_flow.disable_totp(db.session, user, request.form.get("password"), _ip(),
                                policy=_policy())
    except A0Error as error:
        db.session.commit()  # the attempt counts and stays in the audit log
        return error_page(error)
    db.session.commit()
    flash(gettext("Đã tắt xác thực hai bước."))
    return redirect(url_for("auth.account_totp"))


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (a preference cookie; changes no data)."""
    response = make_response(redirect(safe_next(request.args.get("next"), _home())))
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True)
    return response
