"""The case page and the decisions taken on it."""

from __future__ import annotations

from flask import render_template

from app import roles
from app.staff.access import requires
from app.staff.routes import bp


@bp.get("/cases/<reference>")
@requires(roles.VIEW_CASES)
def case(reference: str) -> str:
    return render_template("staff/home.html")
