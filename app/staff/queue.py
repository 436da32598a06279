"""The triage queue and its CSV export."""

from __future__ import annotations

from flask import render_template

from app import roles
from app.staff.access import requires
from app.staff.routes import bp


@bp.get("/queue")
@requires(roles.VIEW_CASES)
def queue() -> str:
    return render_template("staff/home.html")
