"""The dashboard: counts, requests per week, time to answer, drawn as SVG by the portal."""

from __future__ import annotations

from flask import render_template

from app import roles
from app.staff.access import requires
from app.staff.routes import bp


@bp.get("/dashboard")
@requires(roles.VIEW_CASES)
def dashboard() -> str:
    return render_template("staff/home.html")
