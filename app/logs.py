"""The portal's one logging configuration: JSON lines in production, text on a laptop.

Every line carries a timestamp and the id of the HTTP request it belongs to
(``request_id``, also sent back as ``X-Request-ID`` and shown on error pages).
No line may carry a name, an address, a social-security number or a link
token: callers log codes and ids only, the request log names the route's
pattern (``/s/<token>``) instead of the path, and ``MaskTokens`` rewrites
anything that still looks like a token path or a signed link before a
handler writes it. gunicorn's own error log goes through the same filter
(``app.serving``).
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
from typing import Any

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# The paths whose next segment is a link token, as the routes declare them.
TOKEN_PATHS = ("s", "verify", "download", "not-me", "staff/enrol")
_TOKEN_PATH = re.compile(r"(/(?:" + "|".join(TOKEN_PATHS) + r")/)(?!<token>)[^/\s?#\"']+")
# An itsdangerous signed value (payload.timestamp.signature), wherever it appears.
_SIGNED = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
MASK = "[token]"


def mask(text: str) -> str:
    """``text`` with every link token replaced by ``[token]``."""
    return _SIGNED.sub(MASK, _TOKEN_PATH.sub(r"\1" + MASK, text))


class MaskTokens(logging.Filter):
    """Rewrites a record's message so that no link token reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def mask_gunicorn_log() -> None:
    """gunicorn's error log quotes the request line of a request that failed outside the
    app (``Error handling request POST /verify/<token>``): mask it as the portal's own."""
    for handler in logging.getLogger("gunicorn.error").handlers:
        if not any(isinstance(f, MaskTokens) for f in handler.filters):
            handler.addFilter(MaskTokens())


class RequestId(logging.Filter):
    """Puts the current HTTP request's id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def settings(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """The ``dictConfig`` of the portal's processes."""
    if level not in logging.getLevelNamesMapping():
        level = "INFO"
    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": MaskTokens}, "request_id": {"()": RequestId}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id", "mask"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        # Werkzeug's request lines (demo server) quote the path: masked by the handler.
        "loggers": {"werkzeug": {"level": "INFO"}},
    }


def configure(log_format: str, level: str = "INFO") -> None:
    """Install the configuration (``off`` leaves logging as it is: the tests' shape)."""
    if log_format == "off":
        return
    logging.config.dictConfig(settings(log_format, level))
