"""No email tells what care a person had: no category, no count, no retention date.

A forwarded email or a shared mailbox must not reveal that someone has a
transfusion record or a medical record kept until a given year. Every
registered email (one sample each, ``tests/outbox/samples.py``) is rendered
in each of its languages for a request whose plan and report hold every
category of the demo catalogue, and nothing of them may appear in the
subject or either body: the email says what step was reached and links to
the status page, which shows the details. The payloads of the jobs that the
fulfilment code queues are checked by ``assert_no_health_data_in_payloads``,
called from the end-to-end tests of each right.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import fulfilment
from app.extensions import db
from app.fulfilment.report import report_line
from app.models import FulfilmentReport, Job, Plan, PlanLine, Request
from app.outbox import jobs, registry
from app.outbox.registry import Audience
from app.rules.catalogue import Catalogue
from app.services import services_of
from tests.outbox.samples import NOW, SAMPLES, job_for, languages, sent, shown

CASES = [(name, lang) for name, sample in sorted(SAMPLES.items()) for lang in languages(sample)]
ACTIONS = ("disclose", "erase", "retain", "refer", "exclude_from_reuse", "rectify")
# Counts no fixed wording holds, and retention years far from any date the samples use.
FIRST_COUNT, COUNT_STEP, FIRST_YEAR = 8101, 17, 2071


def categories(catalogue: Catalogue) -> list[tuple[str, str, str, str]]:
    """(source, code, French label, English label) of every category of the catalogue."""
    return [
        (source.name, code, info.label.fr, info.label.en)
        for source in catalogue.sources
        for code, info in source.categories.items()
    ]


def health_terms(catalogue: Catalogue) -> set[str]:
    """Every category's code and names in both languages: what an email must never hold."""
    return {term for _, code, fr, en in categories(catalogue) for term in (code, fr, en)}


def full_plan(session: Any, request_id: int, catalogue: Catalogue) -> list[PlanLine]:
    """A plan for the request with every category under every action, each count its own."""
    plan = Plan(
        request_id=request_id,
        number=1,
        outcome="matched",
        catalogue_digest="0" * 64,
        policy_digest="0" * 64,
        computed_on=date(2026, 2, 27),
        created_by="system:routing",
    )
    session.add(plan)
    position = 0
    for source, code, fr, en in categories(catalogue):
        for action in ACTIONS:
            plan.lines.append(
                PlanLine(
                    position=position,
                    source=source,
                    category=code,
                    action=action,
                    record_count=FIRST_COUNT + COUNT_STEP * position,
                    label_fr=fr,
                    label_en=en,
                    basis_fr=f"Base légale d’essai {position}",
                    basis_en=f"Test legal basis {position}",
                    explanation_fr=f"Explication d’essai {position}",
                    explanation_en=f"Test explanation {position}",
                    kept_until=date(FIRST_YEAR + position % 20, 3, 17)
                    if action == "retain"
                    else None,
                    record_keys={},
                )
            )
            position += 1
    session.flush()
    return list(plan.lines)


def report_of(lines: list[PlanLine]) -> list[dict[str, Any]]:
    """The completion report of that plan, as every right writes it, corrections included."""
    report = []
    for line in lines:
        entry = report_line(line, explained=True)
        if line.action == "rectify":
            entry |= {"corrected": line.record_count, "fields": {"a_table": ["a_field"]}}
        report.append(entry)
    return report


def forbidden(lines: list[PlanLine], catalogue: Catalogue) -> set[str]:
    terms = health_terms(catalogue)
    for line in lines:
        terms |= {line.basis_fr, line.basis_en, line.explanation_fr, line.explanation_en}
    return terms


def counts_and_years(text: str, lines: list[PlanLine]) -> list[str]:
    """The plan's counts and retention years found in ``text``, with any thousands separator."""
    found = []
    for line in lines:
        numbers = [line.record_count] + ([line.kept_until.year] if line.kept_until else [])
        for number in numbers:
            digits = str(number)
            spaced = rf"{digits[0]}[\s\u202f\u00a0,.]?{digits[1:]}"
            if re.search(rf"(?<![\w-])(?:{digits}|{spaced})(?![\w])", text):
                found.append(digits)
    return found


def notice_payload(
    session: Any, request_id: int, lines: list[PlanLine], catalogue: Catalogue, sample: Any
) -> dict[str, Any]:
    """The payload ``notify_recipients`` queues for one recipient of every category."""
    request = session.get(Request, request_id)
    pairs = sorted({(line.source, line.category) for line in lines})
    queued = fulfilment.notify_recipients(
        session, request, pairs, sample["action"], catalogue, NOW, "portal.example.org"
    )
    assert queued
    job = session.scalars(
        select(Job).where(Job.request_id == request_id, Job.dedupe_key.like("art19:%"))
    ).first()
    return dict(job.payload)


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_no_email_names_a_category_a_count_or_a_retention(app: Flask, session: Any, name, lang):
    """Every email, with a plan and a report holding every category: none of it is written."""
    catalogue = services_of(app).catalogue
    job = job_for(app, session, SAMPLES[name], lang)
    lines: list[PlanLine] = []
    if job.request_id is not None:
        lines = full_plan(session, job.request_id, catalogue)
        report = session.scalar(
            select(FulfilmentReport).where(FulfilmentReport.request_id == job.request_id)
        )
        if report is None:
            report = FulfilmentReport(request_id=job.request_id, kind=SAMPLES[name].kind)
            session.add(report)
        report.lines = report_of(lines)
        session.flush()
        session.expire_all()
    if registry.get(SAMPLES[name].template).audience is Audience.RECIPIENT:
        # The notice as the code writes it for this plan, not the sample's fixed payload.
        job.payload = notice_payload(session, job.request_id, lines, catalogue, job.payload)
    text = shown(sent(app, session, job))
    leaked = sorted(term for term in forbidden(lines, catalogue) if term in text)
    assert not leaked, f"{name}.{lang} names {leaked}"
    assert not counts_and_years(text, lines), f"{name}.{lang} gives counts or retention years"


# What an email job's payload may hold: the email, its link, codes, flags and dates.
PAYLOAD_KEYS = {
    "template",
    "link_purpose",
    "secret_link",
    "ground",
    "due_on",
    "hours",
    "portability_refused",
    "notified",
    "outcome",
    # An Art. 19 notice: whom it goes to, about which request, what was done and when.
    "recipient_email",
    "recipient_name",
    "action",
    "reference",
    "done_on",
}


def assert_no_health_data_in_payloads(app: Flask, request_id: int) -> None:
    """The request's email jobs hold no category, no label and no count: payloads are stored."""
    with app.app_context():
        payloads = [
            job.payload
            for job in db.session.scalars(
                select(Job).where(Job.request_id == request_id, Job.kind == jobs.SEND_EMAIL)
            )
        ]
        terms = health_terms(services_of(app).catalogue)
        db.session.remove()
    assert payloads
    for payload in payloads:
        assert set(payload) <= PAYLOAD_KEYS, (payload["template"], set(payload) - PAYLOAD_KEYS)
        flat = repr(payload)
        assert not [term for term in terms if term in flat], payload["template"]
        # The one number an email may carry: how many hours a download link works.
        numbers = {k for k, v in payload.items() if isinstance(v, int) and not isinstance(v, bool)}
        assert numbers <= {"hours"}, (payload["template"], numbers)
