"""Public pages: file a request, confirm the address, follow and withdraw it.

Views are thin: read the form, call one function of ``app.intake``, commit,
redirect. Links are identified by their token only; opening a link (GET)
consumes nothing, the button on the page (POST) acts and redirects to a URL
without the token. A status link opens a short status session
(``app.public.status_session``), re-asked after some idle time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    session,
    url_for,
)
from flask import request as http_request
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm.interfaces import ORMOption
from werkzeug.wrappers import Response

from app import deadlines, intake, lifecycle, tokens
from app.casework import cases, clock
from app.extensions import db, limiter
from app.identity import assurance
from app.models import Request, StatusEvent, utcnow
from app.public import check_answers as check_answers_
from app.public import fragments, status_session, status_view
from app.public.forms import (
    KIND_FOR_OTHER,
    KIND_HELP,
    AnswerForm,
    CheckForm,
    ConfirmForm,
    EmailOnlyForm,
    RequestForm,
    ResendForm,
    WithdrawForm,
)
from app.services import services_of

bp = Blueprint("public", __name__)
# Moved forward whenever the accessibility statement is reviewed.
STATEMENT_DATE = date(2026, 11, 29)
SENT_TO = "sent_to"
# The answers a "Change" button on the check page leads back to.
CHANGEABLE = (
    "kind",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "nir",
    "details",
    "for_whom",
    "acts_as",
    "died_on",
    "heir_reason",
    "requester_first_name",
    "requester_last_name",
    "requester_birth_date",
)


def _filing_limit() -> str:
    return str(current_app.config["RATELIMIT_FILING"])


@bp.get("/")
def index() -> str:
    form = RequestForm()
    # The blank fields are rendered once per language; the page writes the CSRF token.
    fields = fragments.blank_request_form(form, KIND_HELP, str(get_locale()))
    return render_template("public/index.html", form=form, kind_help=KIND_HELP, form_fields=fields)


@bp.post("/")
def check_answers() -> str | tuple[str, int]:
    """The answers shown back before sending ("check your answers"); nothing is written."""
    form = RequestForm()
    if not form.validate():
        return render_template("public/index.html", form=form, kind_help=KIND_HELP), 422
    return _check_page(form, check_answers_.seal(http_request.form, _secret_key()))


def _secret_key() -> str:
    return str(current_app.config["SECRET_KEY"])


def _check_page(form: RequestForm, sealed: str) -> str:
    return render_template(
        "public/check.html",
        form=form,
        check=CheckForm(formdata=None, answers=sealed),
        kind_help=KIND_HELP,
        kind_for_other=KIND_FOR_OTHER,
    )


@bp.post("/request/send")
@limiter.limit(_filing_limit)
def file_request() -> Response | str | tuple[str, int]:
    """File the checked answers, read again with the form's own checks; or change one."""
    check = CheckForm()
    if not check.validate_on_submit():
        abort(400)
    answers = check_answers_.unseal(
        check.answers.data or "",
        _secret_key(),
        current_app.config.get("SECRET_KEY_FALLBACKS", ()),
    )
    if answers is None:
        flash(_("Your answers were kept for one hour only: please fill in the form again."))
        return render_template(
            "public/index.html", form=RequestForm(formdata=None), kind_help=KIND_HELP
        ), 422
    if check.change.data in CHANGEABLE:
        # Back to the form (with a CSRF token of its own), every answer kept, the one
        # to change under the cursor.
        form = RequestForm(formdata=answers)
        form[check.change.data].render_kw = {"autofocus": True}
        return render_template("public/index.html", form=form, kind_help=KIND_HELP)
    # The check page's token was checked above; the answers carry none of their own.
    form = RequestForm(formdata=answers, meta={"csrf": False})
    if not form.validate():
        return render_template("public/index.html", form=form, kind_help=KIND_HELP), 422
    intake.file_request(
        db.session(),
        intake.Filing(
            kind=form.kind.data,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            birth_date=form.birth_date.data,  # validated above
            email=form.email.data,
            locale=str(get_locale() or "fr"),
            nir=form.nir.data,
            details=(form.details.data or "").strip() or None,
            **_representation(form),
        ),
        now=utcnow(),
        vault=services_of(current_app).vault,
        names=services_of(current_app).names,
        mail=services_of(current_app).mail,
        per_address_per_hour=current_app.config["FILINGS_PER_ADDRESS_PER_HOUR"],
    )
    db.session.commit()
    # Shown once on the next page, so that a mistyped address shows at once.
    session[SENT_TO] = form.email.data
    return redirect(url_for("public.sent"), 303)


def _representation(form: RequestForm) -> dict[str, Any]:
    """What a request made for someone else adds to the filing (nothing for one's own)."""
    if not form.for_other:
        return {}
    return {
        "acts_as": form.acts_as.data,
        "heir_reason": form.heir_reason.data,
        "subject_died_on": form.died_on.data,
        "requester": intake.Requester(
            first_name=form.requester_first_name.data or "",
            last_name=form.requester_last_name.data or "",
            birth_date=form.requester_birth_date.data,
        ),
    }


@bp.get("/request/sent")
def sent() -> str:
    """The same page whatever the address: it reveals nothing about who filed before.

    It repeats the address this browser just typed (never one from the database).
    """
    return render_template("public/sent.html", sent_to=session.pop(SENT_TO, None))


def _link_problem(
    error: tokens.LinkError, purpose: str, token: str | None = None
) -> tuple[str, int]:
    codes = {"invalid": 400, "expired": 410, "used": 409}
    resend = None
    if error.reason == "expired" and token and purpose == tokens.VERIFY_EMAIL:
        resend = ResendForm(formdata=None, token=token)
    return (
        render_template(
            "public/link_problem.html",
            reason=error.reason,
            purpose=purpose,
            resend=resend,
            email_form=EmailOnlyForm(formdata=None),
        ),
        codes[error.reason],
    )


@bp.get("/verify/<token>")
def verify(token: str) -> str | tuple[str, int]:
    try:
        services_of(current_app).signer.resolve(
            db.session(),
            token,
            tokens.VERIFY_EMAIL,
            utcnow(),
            current_app.config["VERIFY_LINK_MAX_AGE"],
        )
    except tokens.LinkError as error:
        return _link_problem(error, tokens.VERIFY_EMAIL, token)
    return render_template("public/verify.html", form=ConfirmForm())


@bp.post("/verify/<token>")
def verify_confirm(token: str) -> Response | tuple[str, int]:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    now = utcnow()
    try:
        link = services_of(current_app).signer.resolve(
            db.session(),
            token,
            tokens.VERIFY_EMAIL,
            now,
            current_app.config["VERIFY_LINK_MAX_AGE"],
        )
        request = intake.verify(db.session(), link, now=now, mail=services_of(current_app).mail)
    except tokens.LinkError as error:
        db.session.rollback()
        return _link_problem(error, tokens.VERIFY_EMAIL, token)
    except (lifecycle.StaleRequest, lifecycle.TransitionError):
        db.session.rollback()
        return _link_problem(tokens.LinkError("used"), tokens.VERIFY_EMAIL)
    db.session.commit()
    status_session.follow(request.id, now)
    flash(_("Your email address is confirmed and your request has been received."))
    return redirect(url_for("public.status"), 303)


@bp.post("/verify/resend")
@limiter.limit("10 per hour")
def verify_resend() -> Response:
    """A new verification link for the request of an expired one, to the same address."""
    form = ResendForm()
    if form.validate_on_submit():
        link = services_of(current_app).signer.find(
            db.session(), form.token.data, tokens.VERIFY_EMAIL
        )
        request = db.session.get(Request, link.request_id) if link else None
        if request is not None and intake.resend_verification(
            db.session(), request, now=utcnow(), mail=services_of(current_app).mail
        ):
            db.session.commit()
    return redirect(url_for("public.sent"), 303)


@bp.get("/s/<token>")
def status_link(token: str) -> Response | tuple[str, int]:
    """Open the status page from an emailed link, then drop the token from the URL."""
    try:
        link = services_of(current_app).signer.resolve(
            db.session(),
            token,
            tokens.STATUS_PAGE,
            utcnow(),
            current_app.config["STATUS_LINK_MAX_AGE"],
        )
    except tokens.LinkError as error:
        return _link_problem(error, tokens.STATUS_PAGE)
    status_session.follow(link.request_id, utcnow())
    return redirect(url_for("public.status"), 303)


def _followed_request(loads: Sequence[ORMOption] = ()) -> Request | None:
    """The request of this browser's status session; None, and why if it timed out."""
    request_id = _followed_id()
    if request_id is None:
        return None
    return db.session.get(Request, request_id, options=loads)


def _followed_id() -> int | None:
    """The id of the request this browser follows; None, and why if it timed out (flashed)."""
    found = status_session.followed(utcnow())
    if found.expired:
        minutes = max(1, current_app.config["STATUS_SESSION_IDLE"] // 60)
        flash(
            ngettext(
                "For your safety, the page of your request closes after %(num)d minute "
                "without activity. Open the link from one of our emails again, or ask for a "
                "new one below.",
                "For your safety, the page of your request closes after %(num)d minutes "
                "without activity. Open the link from one of our emails again, or ask for a "
                "new one below.",
                minutes,
            )
        )
    return found.request_id


# What the status page reads: the request's columns, its report, its package and the
# head of its plan in force (one statement, app.public.status_view), then the timeline
# (one more), as plain rows. A plan's cards come rendered from app.public.fragments, its
# lines read only the first time (tests/test_status_queries.py counts the statements).
TIMELINE = (
    select(StatusEvent.occurred_at, StatusEvent.to_status)
    .where(StatusEvent.request_id == bindparam("request_id"))
    .order_by(StatusEvent.id)
)


@bp.get("/status")
def status() -> tuple[str, int]:
    request_id = _followed_id()
    found = status_view.load(db.session(), request_id) if request_id is not None else None
    if found is None:
        return render_template("public/status_link.html", form=EmailOnlyForm()), 403
    view, plan = found
    return _status_page(view, AnswerForm(), plan=plan)


_UNREAD: Any = object()


def _status_page(
    request: Request | status_view.StatusView,
    answer: AnswerForm,
    code: int = 200,
    plan: Any = _UNREAD,
) -> tuple[str, int]:
    """The status page of ``request``; ``plan``: the head of its plan in force, if read.

    Given the entity (a form of the page answered with an error), the page reads
    its plain rows again in the same transaction, so it shows what was just written.
    """
    session = db.session()
    if isinstance(request, Request):
        session.flush()
        found = status_view.load(session, request.id)
        assert found is not None, "the request was read in this transaction"
        request, plan = found
    waiting = request.status == "awaiting_requester"
    question = (
        clock.open_question(session, request, services_of(current_app).vault) if waiting else None
    )
    policy = services_of(current_app).assurance
    # Nothing about the data, not even which kinds exist, below the level (app.identity):
    # decided here, per view, before any cached fragment is looked up.
    plan_shown = assurance.shows_plan(policy, request)
    locale = str(get_locale())
    if not plan_shown:
        plan = None
    elif plan is _UNREAD:
        plan = fragments.plan_in_force(session, request.id)
    plan_cards = report_cards = None
    report = request.report if plan_shown else None
    if report is not None and request.status == "completed" and report.lines:
        report_cards = fragments.report_cards(report, locale)
    elif (
        plan is not None
        and request.report is None
        and request.status != "withdrawn"
        and plan.outcome not in ("identity_review", "no_data", "refused")
    ):
        plan_cards = fragments.plan_cards(session, plan, locale)
    # A request made for someone else that the law does not allow: the relationship's
    # reason, which reveals nothing of the sources (none was read). A refusal during
    # life is told by staff's refusal only, once the relationship is proven.
    plan_refusal = None
    if plan is not None and plan.outcome == "refused":
        rules = services_of(current_app).representation
        relationship = rules.of(request.acts_as or "self")
        if relationship is not None and request.kind not in relationship.rights:
            plan_refusal = relationship.refusal.in_(locale)
    events = session.connection().execute(TIMELINE, {"request_id": request.id}).all()
    return render_template(
        "public/status.html",
        request=request,
        deadline_track=_deadline_track(request),
        plan=plan,
        plan_cards=plan_cards,
        plan_refusal=plan_refusal,
        report_cards=report_cards,
        events=events,
        plan_shown=plan_shown,
        identity_proven=assurance.identity_shows_plan(policy, request),
        relationship=services_of(current_app).representation.of(request.acts_as),
        heir_reason=services_of(current_app).representation.reason(request.heir_reason),
        can_prove=assurance.can_prove(request),
        is_open=lifecycle.is_open(request.status),
        can_withdraw=lifecycle.can_move(request.status, "withdrawn"),
        question=question,
        answer_form=answer if waiting else None,
        refusal_message=services_of(current_app).vault.decrypt(request.refusal_message_encrypted)
        if request.status == "denied"
        else None,
    ), code


def _deadline_track(request: Request | status_view.StatusView) -> str:
    """The period the page names: GDPR's month, or the Public Health Code's 8 days or 2 months."""
    if not request.medical_deadline or request.received_on is None:
        return "gdpr"
    recent = deadlines.medical_record_is_recent(request.received_on, request.medical_newest_on)
    return "eight_days" if recent else "two_months"


@bp.post("/status/answer")
def answer() -> Response | tuple[str, int]:
    """The requester answers staff's question; the case goes back to whoever asked."""
    request = _followed_request()
    if request is None:
        return redirect(url_for("public.status"), 303)
    form = AnswerForm()
    if request.status != "awaiting_requester":
        flash(_("No question is waiting for an answer on this request."))
        return redirect(url_for("public.status"), 303)
    if not form.validate_on_submit():
        return _status_page(request, form, 422)
    try:
        clock.answer(
            db.session(),
            request,
            form.answer.data or "",
            vault=services_of(current_app).vault,
            now=utcnow(),
            mail=services_of(current_app).mail,
        )
    except (cases.CaseError, lifecycle.StaleRequest, lifecycle.TransitionError):
        db.session.rollback()
        flash(_("This request changed in the meantime; here is its current state."))
        return redirect(url_for("public.status"), 303)
    db.session.commit()
    flash(_("Thank you: your answer has been sent. A confirmation has been sent to you by email."))
    return redirect(url_for("public.status"), 303)


@bp.route("/status/withdraw", methods=["GET", "POST"])
def withdraw() -> Response | str | tuple[str, int]:
    request = _followed_request()
    if request is None:
        return redirect(url_for("public.status"), 303)
    if not lifecycle.can_move(request.status, "withdrawn"):
        flash(_("This request can no longer be withdrawn."))
        return redirect(url_for("public.status"), 303)
    form = WithdrawForm()
    if not form.validate_on_submit():
        code = 422 if form.is_submitted() else 200
        return render_template("public/withdraw.html", form=form, request=request), code
    try:
        intake.withdraw(db.session(), request, now=utcnow(), mail=services_of(current_app).mail)
    except (lifecycle.StaleRequest, lifecycle.TransitionError):
        db.session.rollback()
        flash(_("This request changed in the meantime; here is its current state."))
        return redirect(url_for("public.status"), 303)
    db.session.commit()
    flash(_("Your request has been withdrawn. A confirmation has been sent to you by email."))
    return redirect(url_for("public.status"), 303)


@bp.route("/status/link", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def new_status_link() -> Response | str | tuple[str, int]:
    """Email a fresh status link; the answer is the same for any address."""
    form = EmailOnlyForm()
    if not form.validate_on_submit():
        code = 422 if form.is_submitted() else 200
        return render_template("public/status_link.html", form=form), code
    intake.send_status_links(
        db.session(), form.email.data, now=utcnow(), mail=services_of(current_app).mail
    )
    db.session.commit()
    return redirect(url_for("public.status_link_sent"), 303)


@bp.get("/status/link/sent")
def status_link_sent() -> str:
    """What happens after asking for a status link; the same page whatever the address."""
    return render_template(
        "public/status_link_sent.html",
        minutes=int(intake.RESEND_INTERVAL.total_seconds() // 60),
        days=current_app.config["STATUS_LINK_MAX_AGE"] // 86400,
    )


@bp.get("/accessibility")
def accessibility() -> str:
    return render_template("public/accessibility.html", statement_date=STATEMENT_DATE)
