"""The demo mailbox: in demo mode only, read the emails the portal wrote to files."""

from app.demo.routes import bp

__all__ = ["bp"]
