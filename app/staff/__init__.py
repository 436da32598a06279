"""The staff blueprint: closed by default, only sign-in and enrolment are open.

Views live in one module per screen; importing them registers their routes.
"""

from app.staff import (  # noqa: F401
    admin,
    approval_views,
    audit_views,
    case_views,
    dashboard,
    identity_views,
    queue,
    queue_actions,
    rectify_views,
)
from app.staff.routes import bp

__all__ = ["bp"]
