"""A page listing the ``.eml`` files of ``MAIL_DIR``, so a newcomer can click the links.

Registered only when ``PORTAL_ENV=demo``: it shows every email to anyone.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template

from app.i18n import date_time

bp = Blueprint("demo", __name__, url_prefix="/demo")


def _folder() -> Path:
    return Path(current_app.config["MAIL_DIR"])


def sent_on(message: EmailMessage) -> str:
    """The message's Date header as the page writes dates: Paris time, the page's language."""
    try:
        when = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        return str(message["Date"] or "")
    return date_time(when)


@bp.context_processor
def _demo_helpers() -> dict[str, object]:
    return {"sent_on": sent_on}


def _read(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@bp.get("/mailbox")
def mailbox() -> str:
    folder = _folder()
    files = sorted(folder.glob("*.eml"), reverse=True) if folder.is_dir() else []
    messages = [(path.stem, _read(path)) for path in files[:200]]
    return render_template("demo/mailbox.html", messages=messages)


@bp.get("/mailbox/<name>")
def message(name: str) -> str:
    # Only names that the listing itself offers: no path ever comes from the URL.
    known = {path.stem: path for path in _folder().glob("*.eml")} if _folder().is_dir() else {}
    if name not in known:
        abort(404)
    parsed = _read(known[name])
    body = parsed.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return render_template("demo/message.html", message=parsed, text=text)
