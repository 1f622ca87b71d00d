"""The district API explained to people (Vietnamese first, English from the catalogue),
and a page where district and province staff make and revoke their own API tokens
for their district systems. A new token is shown once, on the page answering the
form, and never again (only its hash is kept)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from a0core.errors import A0Error
from server.district.feeds import DEFAULT_LIMIT, FEEDS, MAX_LIMIT
from server.extensions import db
from server.models.tokens import ApiToken
from server.security.api_tokens import MAX_LABEL, create_token, list_tokens, revoke_token
from server.security.scope import API_HELP, API_TOKENS
from server.security.session import current_user
from server.web.dashboard.shell import add_nav, bp, error_page, require, scope, staff_page

add_nav("dashboard.api_help", lazy_gettext("API cho huyện"), API_HELP, 70)
add_nav("dashboard.api_tokens", lazy_gettext("Mã truy cập API"), API_TOKENS, 75)


@bp.get("/api")
@staff_page(API_HELP)
def api_help():
    base = request.url_root.rstrip("/")
    return render_template("api_help.html", feeds=list(FEEDS.values()), base=base,
                           default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT,
                           may_tokens=scope().may(API_TOKENS),
                           person_level=scope().person_level)


def _tokens_page(**extra):
    user = current_user()
    return render_template("api_tokens.html", tokens=list_tokens(db.session, user.username),
                           max_label=MAX_LABEL, **extra)


@bp.route("/api/tokens", methods=["GET", "POST"])
@staff_page(API_TOKENS)
def api_tokens():
    if request.method != "POST":  # GET and HEAD only read
        return _tokens_page()
    try:
        secret, row = create_token(db.session, current_user().username,
                                   request.form.get("label", ""), created_by=scope().actor)
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        return _tokens_page(error=error), 400
    return _tokens_page(created=row, secret=secret)


@bp.post("/api/tokens/<int:token_id>/revoke")
@staff_page(API_TOKENS)
def api_token_revoke(token_id: int):
    # only one's own tokens: another user's token looks absent
    row = require(db.session.get(ApiToken, token_id))
    require(row if row.user_id == current_user().id else None)
    try:
        revoke_token(db.session, token_id, by=scope().actor)
        db.session.commit()
    except A0Error as error:
        return error_page(error)
    flash(gettext("Đã thu hồi mã truy cập “%(label)s”.", label=row.label))
    return redirect(url_for("dashboard.api_tokens"))
