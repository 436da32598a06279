"""The staff blueprint: closed by default, only sign-in and enrolment are open.

Views live in one module per screen; importing them registers their routes.
"""

from app.staff import admin, audit_views, case_views, dashboard, queue, rectify_views  # noqa: F401
from app.staff.routes import bp

__all__ = ["bp"]
