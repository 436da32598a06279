"""The staff blueprint: closed by default, only sign-in and enrolment are open."""

from app.staff.routes import bp

__all__ = ["bp"]
