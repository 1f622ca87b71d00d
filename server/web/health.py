"""Liveness and a landing page that shows what this server holds."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template_string
from sqlalchemy import text

from server.extensions import db
from server.orgunits.queries import overview

bp = Blueprint("health", __name__)

LANDING = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>a0sync</title></head>
<body style="font-family: sans-serif; max-width: 48rem; margin: 2rem auto">
<h1>a0sync</h1>
<p>Sổ A0 điện tử — đồng bộ dữ liệu cộng tác viên dân số
<br><small>Electronic A0 register — population collaborator data sync</small></p>
<p><a href="/login">Đăng nhập / Log in</a></p>
{% for c in communes %}
<h2>{{ c.full_name }} <small>({{ c.code }})</small></h2>
<p>{{ c.province }} — {{ c.villages }} thôn/tổ (villages), {{ c.households }} hộ (households),
{{ c.members }} nhân khẩu (persons), tháng/month {{ c.month }}</p>
{% else %}
<p>Chưa có dữ liệu sổ A0. <small>No register data yet.</small></p>
{% endfor %}
</body></html>"""


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/")
def landing():
    return render_template_string(LANDING, communes=overview(db.session))
