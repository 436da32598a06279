"""The status session: a short hold on one request, opened by the long-lived status link.

The emailed link (``/s/<token>``, valid ``STATUS_LINK_MAX_AGE``, 400 days) stays
the requester's key: there is no account, a request can last months (an
extension, a question, the medical-record track) and its page must still show
the answer when a complaint is made later; every email carries a fresh link,
and ``/status/link`` sends one to the address on file. What the link opens is
short-lived instead: the session cookie remembers the request for
``STATUS_SESSION_IDLE`` without use (30 minutes) and ``MAX_SECONDS`` in all,
then the page asks for the link again. A browser left open, a shared computer
or restored tabs do not show the plan to whoever comes next (docs/security.md,
"Requester links and tokens").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, session

KEY = "status_request"
# However active, a status session ends after this long; the link opens a new one.
MAX_SECONDS = 12 * 3600
# The idle clock is restarted (the cookie written again) at most this often: a page
# reloaded within it sends no new cookie. The session may so end up to this much
# sooner than STATUS_SESSION_IDLE after the last view, never later.
REFRESH_SECONDS = 30


@dataclass(frozen=True)
class Followed:
    """The request the browser follows, if any; ``expired``: there was one, now timed out."""

    request_id: int | None
    expired: bool = False


def follow(request_id: int, now: datetime) -> None:
    """Start following ``request_id`` (a link was opened or the address just confirmed)."""
    stamp = int(now.timestamp())
    session[KEY] = {"id": request_id, "since": stamp, "seen": stamp}


def followed(now: datetime) -> Followed:
    """The request this browser follows, its idle clock restarted; or none, ended if timed out."""
    held = session.get(KEY)
    if held is None:
        return Followed(None)
    stamp = int(now.timestamp())
    idle = int(current_app.config["STATUS_SESSION_IDLE"])
    try:
        request_id, since, seen = int(held["id"]), int(held["since"]), int(held["seen"])
    except (KeyError, TypeError, ValueError):
        # Not a session this code wrote (an older format): ask for the link again.
        session.pop(KEY, None)
        return Followed(None, expired=True)
    if stamp - seen > idle or stamp - since > MAX_SECONDS:
        session.pop(KEY, None)
        return Followed(None, expired=True)
    if stamp - seen >= REFRESH_SECONDS or stamp < seen:
        session[KEY] = {"id": request_id, "since": since, "seen": stamp}
    return Followed(request_id)
