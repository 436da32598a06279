"""The person on file's "this was not me", and the requester's proofs of identity.

The notice's link is opened by the person the request names, at the contact
address the sources hold: GET shows a button (mail scanners open links), the
POST freezes the request for staff and uses up the link.
"""

from __future__ import annotations

from flask import abort, current_app, render_template
from werkzeug.wrappers import Response

from app import lifecycle, tokens
from app.extensions import db
from app.identity import contact
from app.models import utcnow
from app.public.forms import ConfirmForm
from app.public.routes import bp
from app.services import services_of

PROBLEM_CODES = {"invalid": 400, "expired": 410, "used": 409}


def _problem(error: tokens.LinkError) -> tuple[str, int]:
    return render_template("public/not_me.html", problem=error.reason), PROBLEM_CODES[error.reason]


def _resolve(token: str) -> tokens.LinkToken:
    return services_of(current_app).signer.resolve(
        db.session(), token, tokens.NOT_ME, utcnow(), current_app.config["STATUS_LINK_MAX_AGE"]
    )


@bp.get("/not-me/<token>")
def not_me(token: str) -> str | tuple[str, int]:
    try:
        _resolve(token)
    except tokens.LinkError as error:
        return _problem(error)
    return render_template("public/not_me.html", form=ConfirmForm())


@bp.post("/not-me/<token>")
def not_me_confirm(token: str) -> Response | str | tuple[str, int]:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        link = _resolve(token)
        outcome = contact.dispute(
            db.session(), link, now=utcnow(), mail=services_of(current_app).mail
        )
    except tokens.LinkError as error:
        db.session.rollback()
        return _problem(error)
    except (lifecycle.StaleRequest, lifecycle.TransitionError):
        # The request moved at that very moment: nothing was written; the link still works.
        db.session.rollback()
        return render_template("public/not_me.html", form=ConfirmForm(), retry=True), 409
    db.session.commit()
    return render_template("public/not_me.html", outcome=outcome)
