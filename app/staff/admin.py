"""Staff accounts for administrators: list, create with an enrolment link, disable."""

from __future__ import annotations

from flask import render_template

from app import roles
from app.staff.access import requires
from app.staff.routes import bp


@bp.get("/accounts")
@requires(roles.MANAGE_STAFF)
def accounts() -> str:
    return render_template("staff/home.html")
