"""The public blueprint: what citizens see, no account needed."""

from app.public.routes import bp

__all__ = ["bp"]
