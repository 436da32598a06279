"""The case page and the decisions taken on it.

Each decision is a POST carrying the version of the case the page showed:
the view calls one function of ``app.casework`` (``cases``, ``decisions``,
``clock``, ``identity``), commits, and redirects. A refusal by the rules
re-shows the page with the reason (422), a lost race names who changed the
case (409), a role or holder refusal is a 403
(``app.staff.refusals``). What the page shows is read by
``app.casework.case_page``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app import deadlines, lifecycle
from app.casework import case_page, cases, clock, decisions, identity, refusal_window
from app.extensions import db
from app.fulfilment import third_parties
from app.identity import assurance
from app.labels import EXTENSION_LABELS, REFUSAL_LABELS
from app.models import Request, StaffUser, utcnow
from app.rules import plans, routing
from app.services import services_of
from app.staff import refusals, timeline
from app.staff.access import can, me, requires
from app.staff.case_forms import (
    QUESTION_LABELS,
    ApproveForm,
    AskForm,
    AssignForm,
    CaseForm,
    ExtendForm,
    NoteForm,
    RefuseForm,
    ThirdPartyForm,
    UnfoundedForm,
)
from app.staff.routes import bp, source_title
from app.staffing import roles

NOTE_LABELS = {
    "note": _l("Internal note"),
    "question": _l("Question to the requester"),
    "answer": _l("Answer from the requester"),
    "justification": _l("Justification of the decision"),
}


def case_or_404(reference: str) -> Request:
    """The case with this reference (the case page and the correction screen share it)."""
    found = case_page.find_case(db.session(), reference)
    if found is None:
        abort(404)
    return found


def _named() -> dict[str, str]:
    """The fixed actors of the audit trail, as staff read them."""
    return {code: str(name) for code, name in timeline.ACTORS.items()}


def _readable(people: Mapping[str, str]) -> dict[str, str]:
    """Every actor by a name: staff by address, the rest by ``timeline.actor_name``."""
    staff = {a: n for a, n in people.items() if a.startswith("staff:") and n != a}
    return {a: timeline.actor_name(a, staff) for a in people}


def _forms(case: Request) -> dict[str, Any]:
    version = {"version": case.version}
    assign = AssignForm(formdata=None, **version)
    assign.assignee.choices = [
        SelectChoice(u.id, u.email) for u in case_page.workers(db.session())
    ]
    refuse = RefuseForm(formdata=None, **version)
    refuse.ground.choices = [
        SelectChoice(g, str(REFUSAL_LABELS[g])) for g in cases.REFUSAL_GROUNDS
    ]
    extend = ExtendForm(formdata=None, **version)
    extend.ground.choices = [
        SelectChoice(g, str(EXTENSION_LABELS[g])) for g in cases.EXTENSION_GROUNDS
    ]
    unfounded = UnfoundedForm(formdata=None, **version)
    unfounded.ground.choices = [
        SelectChoice(g, str(REFUSAL_LABELS[g])) for g in cases.UNFOUNDED_GROUNDS
    ]
    return {
        "action": CaseForm(formdata=None, **version),
        "approve": ApproveForm(formdata=None, **version),
        "assign": assign,
        "note": NoteForm(formdata=None),
        "refuse": refuse,
        "ask": AskForm(formdata=None, **version),
        "extend": extend,
        "unfounded": unfounded,
        "third_parties": ThirdPartyForm(formdata=None, **version),
    }


def _page(case: Request, *, error: str | None = None, code: int = 200) -> tuple[str, int]:
    page = case_page.case_page(
        db.session(),
        case,
        services_of(current_app).vault,
        now=utcnow(),
        named=_named(),
    )
    user = me()
    people = _readable(page.people)
    services = services_of(current_app)
    review = third_parties.screen(
        db.session(),
        case,
        user,
        catalogue=services.catalogue,
        warehouse=services.warehouse,
        assurance=services.assurance,
        locale=str(get_locale() or "fr"),
        now=utcnow(),
    )
    # The read of the sources is audited, also when the page answers a refused decision.
    db.session.commit()
    return (
        render_template(
            "staff/case.html",
            case=case,
            user=user,
            holder=page.holder,
            preparer=page.preparer,
            nir=page.nir,
            details=page.details,
            refusal_message=page.refusal_message,
            notes=page.notes,
            note_labels=NOTE_LABELS,
            question_labels=QUESTION_LABELS,
            audit_events=page.audit_events,
            views=page.views,
            emails=page.emails,
            people=people,
            sentence=lambda event: timeline.sentence(event, people, source_title),
            email_name=timeline.email_name,
            days_left=page.days_left,
            forms=_forms(case),
            error=error,
            mine=case.assignee_id == user.id,
            can_approve_sensitive=can(roles.APPROVE_SENSITIVE),
            can_assign=can(roles.ASSIGN),
            can_unfounded=can(roles.MARK_UNFOUNDED),
            four_eyes=cases.needs_four_eyes(case),
            workable=case.status in cases.WORKABLE,
            identity=assurance.standing(services_of(current_app).assurance, case),
            refusal=refusal_window.window(case, deadlines.receipt_date(utcnow())),
            review=review,
        ),
        code,
    )


@bp.get("/cases/<reference>")
@requires(roles.VIEW_CASES)
def case(reference: str) -> tuple[str, int]:
    found = case_or_404(reference)
    cases.record_view(db.session(), found, me(), utcnow())
    db.session.commit()
    return _page(found)


def _stale_message(error: lifecycle.StaleRequest) -> str:
    who = ""
    if error.changed_by:
        names = case_page.people(db.session(), {error.changed_by}, _named())
        who = names.get(error.changed_by, "")
    when = format_datetime(error.changed_at, "short") if error.changed_at else ""
    if who:
        return _(
            "%(who)s changed this case at %(when)s, after you opened it. Nothing you sent "
            "was saved: here is the case as it is now; check it and decide again.",
            who=who,
            when=when,
        )
    return _(
        "This case changed after you opened it. Nothing was saved: check it and decide again."
    )


def _decide(
    reference: str,
    form: CaseForm,
    act: Callable[[Request], Any],
    done: str,
    kept: Callable[[Request, Exception], None] | None = None,
) -> Response | tuple[str, int]:
    """Run one decision: validate, act, commit, redirect; or explain why not.

    A refusal rolls everything back; ``kept`` may then write what must stay
    (the audit of a read that did happen), committed before the page is shown.
    """
    found = case_or_404(reference)
    if not form.validate():
        return _page(found, error=_("Some of the information needs correcting."), code=422)

    def run() -> None:
        if found.version != form.version.data:
            raise lifecycle.stale(db.session(), found.id)
        act(found)

    def reshow(refusal: Exception, message: str, status: int) -> tuple[str, int]:
        again = case_or_404(reference)
        if kept is not None:
            kept(again, refusal)
            db.session.commit()
        return _page(again, error=message, code=status)

    refused = refusals.attempt(run, reshow, _stale_message)
    if refused is not None:
        return refused
    db.session.commit()
    flash(done)
    return redirect(url_for("staff.case", reference=reference), 303)


def _context() -> dict[str, Any]:
    return {"now": utcnow(), "mail": services_of(current_app).mail}


@bp.post("/cases/<reference>/claim")
@requires(roles.WORK_CASES)
def case_claim(reference: str) -> Response | tuple[str, int]:
    form = CaseForm()
    return _decide(
        reference,
        form,
        lambda case: cases.claim(
            db.session(), case, me(), version=form.version.data or 0, **_context()
        ),
        _("You hold this case now."),
    )


@bp.post("/cases/<reference>/release")
@requires(roles.WORK_CASES)
def case_release(reference: str) -> Response | tuple[str, int]:
    form = CaseForm()
    return _decide(
        reference,
        form,
        lambda case: cases.release(
            db.session(), case, me(), version=form.version.data or 0, **_context()
        ),
        _("The case is back in the queue."),
    )


@bp.post("/cases/<reference>/assign")
@requires(roles.ASSIGN)
def case_assign(reference: str) -> Response | tuple[str, int]:
    form = AssignForm()
    form.assignee.choices = [SelectChoice(u.id, u.email) for u in case_page.workers(db.session())]

    def act(case: Request) -> None:
        assignee = db.session.get(StaffUser, form.assignee.data)
        if assignee is None:
            raise cases.CaseError("cannot_hold")
        cases.assign(
            db.session(), case, me(), assignee, version=form.version.data or 0, **_context()
        )

    return _decide(reference, form, act, _("The case is assigned."))


@bp.post("/cases/<reference>/notes")
@requires(roles.WORK_CASES)
def case_note(reference: str) -> Response | tuple[str, int]:
    found = case_or_404(reference)
    form = NoteForm()
    if not form.validate():
        return _page(found, error=_("Write the note first (at most 5,000 characters)."), code=422)
    cases.add_note(
        db.session(),
        found,
        me(),
        form.text.data or "",
        vault=services_of(current_app).vault,
        now=utcnow(),
    )
    db.session.commit()
    flash(_("Note added."))
    return redirect(url_for("staff.case", reference=reference) + "#notes", 303)


@bp.post("/cases/<reference>/prepare-approval")
@requires(roles.WORK_CASES)
def case_prepare_approval(reference: str) -> Response | tuple[str, int]:
    form = CaseForm()
    return _decide(
        reference,
        form,
        lambda case: decisions.prepare(
            db.session(),
            case,
            me(),
            "approve",
            version=form.version.data or 0,
            now=utcnow(),
            assurance=services_of(current_app).assurance,
        ),
        _("The plan is prepared: a data protection officer will approve it."),
    )


@bp.post("/cases/<reference>/prepare-refusal")
@requires(roles.WORK_CASES)
def case_prepare_refusal(reference: str) -> Response | tuple[str, int]:
    form = RefuseForm()
    form.ground.choices = [SelectChoice(g, g) for g in cases.REFUSAL_GROUNDS]
    return _decide(
        reference,
        form,
        lambda case: decisions.prepare(
            db.session(),
            case,
            me(),
            "refuse",
            ground=form.ground.data,
            message=form.message.data,
            vault=services_of(current_app).vault,
            version=form.version.data or 0,
            now=utcnow(),
            assurance=services_of(current_app).assurance,
        ),
        _("The refusal is prepared: a data protection officer will approve it."),
    )


@bp.post("/cases/<reference>/send-back")
@requires(roles.WORK_CASES)
def case_send_back(reference: str) -> Response | tuple[str, int]:
    form = CaseForm()
    return _decide(
        reference,
        form,
        lambda case: decisions.send_back(
            db.session(), case, me(), version=form.version.data or 0, now=utcnow()
        ),
        _("The prepared decision is withdrawn."),
    )


@bp.post("/cases/<reference>/ask")
@requires(roles.WORK_CASES)
def case_ask(reference: str) -> Response | tuple[str, int]:
    form = AskForm()
    return _decide(
        reference,
        form,
        lambda case: clock.ask(
            db.session(),
            case,
            me(),
            form.question.data or "",
            form.kind.data or "",
            vault=services_of(current_app).vault,
            version=form.version.data or 0,
            **_context(),
        ),
        _("Your question is sent: the requester answers on their page."),
    )


@bp.post("/cases/<reference>/extend")
@requires(roles.WORK_CASES)
def case_extend(reference: str) -> Response | tuple[str, int]:
    form = ExtendForm()
    form.ground.choices = [SelectChoice(g, g) for g in cases.EXTENSION_GROUNDS]
    return _decide(
        reference,
        form,
        lambda case: clock.extend(
            db.session(),
            case,
            me(),
            form.ground.data or "",
            version=form.version.data or 0,
            **_context(),
        ),
        _("The deadline is extended; the requester is told why by email."),
    )


@bp.post("/cases/<reference>/third-parties")
@requires(roles.WORK_CASES)
def case_third_parties(reference: str) -> Response | tuple[str, int]:
    """The third-party review: mask a passage, put one back, or say the review is done."""
    form = ThirdPartyForm()
    services = services_of(current_app)
    gates = {"assurance": services.assurance, "version": form.version.data or 0, "now": utcnow()}

    def act(case: Request) -> None:
        if form.action.data == "mask":
            third_parties.add(
                db.session(),
                case,
                me(),
                source=form.source.data or "",
                table=form.table.data or "",
                key=form.key.data or "",
                column=form.column.data or "",
                passage=form.passage.data or "",
                start=form.start.data,
                catalogue=services.catalogue,
                warehouse=services.warehouse,
                **gates,  # type: ignore[arg-type]
            )
        elif form.action.data == "unmask":
            third_parties.remove(
                db.session(),
                case,
                me(),
                form.redaction.data or 0,
                **gates,  # type: ignore[arg-type]
            )
        else:
            third_parties.mark_reviewed(
                db.session(),
                case,
                me(),
                catalogue=services.catalogue,
                **gates,  # type: ignore[arg-type]
            )

    done = {
        "mask": _("The passage is masked in the package; the source is unchanged."),
        "unmask": _("The passage is put back in the package."),
        "done": _("Review done: the package may be approved."),
    }.get(form.action.data or "", _("Saved."))
    answer = _decide(reference, form, act, done)
    if isinstance(answer, Response):
        answer.location = (answer.location or "") + "#third-parties"
    return answer


@bp.post("/cases/<reference>/unfounded")
@requires(roles.MARK_UNFOUNDED)
def case_unfounded(reference: str) -> Response | tuple[str, int]:
    form = UnfoundedForm()
    form.ground.choices = [SelectChoice(g, g) for g in cases.UNFOUNDED_GROUNDS]
    return _decide(
        reference,
        form,
        lambda case: decisions.mark_unfounded(
            db.session(),
            case,
            me(),
            form.ground.data or "",
            form.justification.data or "",
            vault=services_of(current_app).vault,
            version=form.version.data or 0,
            **_context(),
        ),
        _("The request is refused; the requester is told why by email."),
    )


def _ambiguous_read(case: Request, refusal: Exception) -> None:
    # Still ambiguous is the one refusal that comes after the sources were read.
    if isinstance(refusal, cases.CaseError) and refusal.reason == "still_ambiguous":
        cases.record_source_read(db.session(), case, me(), utcnow(), screen="confirm_identity")


@bp.post("/cases/<reference>/confirm-identity")
@requires(roles.WORK_CASES)
def case_confirm_identity(reference: str) -> Response | tuple[str, int]:
    form = CaseForm()
    return _decide(
        reference,
        form,
        lambda case: identity.confirm_identity(
            db.session(),
            case,
            me(),
            services_of(current_app),
            version=form.version.data or 0,
            now=utcnow(),
        ),
        _("Identity confirmed: the plan is computed and the case is back in the queue."),
        kept=_ambiguous_read,
    )


@bp.get("/cases/<reference>/recompute")
@requires(roles.VIEW_CASES)
def case_recompute(reference: str) -> str:
    """What today's sources and rules would change in the plan: a comparison, nothing saved."""
    found = case_or_404(reference)
    now = utcnow()
    # Counts per category, as on the case page; reading the sources is still audited.
    cases.record_source_read(db.session(), found, me(), now, screen="recompute")
    draft = routing.draft_for(found, services_of(current_app), deadlines.receipt_date(now))
    db.session.commit()
    return render_template(
        "staff/recompute.html",
        case=found,
        draft=draft,
        changes=plans.diff(found.plan, draft),
    )
