"""Every refusal, in part or in whole, gives the three elements of GDPR Art. 12(4).

The reasons, the right to complain to the CNIL and the right to a judicial
remedy: in every email and every page that refuses anything, in French and in
English (issue 18, correction 2). An email never names a category (health
data), so a partial refusal's email gives the remedies and says that the
reasons are on the status page, which gives them per category.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask_babel import force_locale, gettext, ngettext

from app import tokens
from app.casework.cases import REFUSAL_GROUNDS
from app.extensions import db
from app.labels import REFUSAL_LABELS
from app.models import AccessPackage, FulfilmentReport, LinkToken, Plan, Request
from app.outbox import registry
from app.services import services_of
from tests.outbox.samples import SAMPLES, Sample, job_for, sent

NOW = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)
CNIL = "cnil.fr/fr/plaintes"
COURT = {"fr": "recours juridictionnel", "en": "judicial remedy"}
# Where each partial refusal's email gives its reasons, or says where they are.
PAGE_HAS_THE_REASONS = {
    "completed_erasure": "The page of your request shows what we found, what we erased and "
    "what the law obliges us to keep, on which legal basis and until when.",
    "completed_objection": "The page of your request shows which data is left out of research "
    "from now on, and which is still used, why and on which legal basis.",
    "completed_rectification": "The page of your request shows what was checked and "
    "corrected, and what another organisation handles.",
}
PORTABILITY_REASON = (
    "You asked for portability. It applies only to data you provided that we process on the "
    "basis of your consent or a contract (GDPR Art. 20(1)(a)): data we process under a legal "
    "obligation is outside it, and it never applies to a task carried out in the public "
    "interest (Art. 20(3)). Some of this data is processed on one of those two bases. You "
    "therefore receive the copy Article 15 provides, in a machine-readable format (JSON)."
)
# The emails that refuse something, in part or in whole, with the sample that shows it.
REFUSING = {
    "refused": [
        Sample("refused", status="denied", extra={"ground": ground}) for ground in REFUSAL_GROUNDS
    ]
    + [Sample("refused", status="denied", extra={"ground": "manifestly_unfounded"})],
    "completed_erasure": [
        SAMPLES["completed_erasure"],
        SAMPLES["completed_erasure--no-recipient"],
    ],
    "completed_objection": [SAMPLES["completed_objection"]],
    "completed_rectification": [SAMPLES["completed_rectification--accurate"]],
    "completed_portability": [SAMPLES["completed_portability"]],
    "package_ready": [SAMPLES["package_ready--portability-refused"]],
}


def flat(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def in_language(app: Flask, lang: str, msgid: str) -> str:
    with app.test_request_context(), force_locale(lang):
        return flat(gettext(msgid))


def reasons_of(app: Flask, sample: Sample, lang: str) -> list[str]:
    """What must be there for the reasons: the ground, the portability rule, or the pointer."""
    if sample.template == "refused":
        with app.test_request_context(), force_locale(lang):
            return [flat(str(REFUSAL_LABELS[sample.extra["ground"]]))]
    if sample.extra.get("portability_refused"):
        return [in_language(app, lang, PORTABILITY_REASON)]
    return [in_language(app, lang, PAGE_HAS_THE_REASONS[sample.template])]


def test_every_email_that_may_refuse_is_listed():
    """A completion email may refuse in part: each one, and the refusal, is checked below."""
    names = {name for name in registry.EMAILS if name.startswith("completed_")}
    assert names - {"completed_access"} <= set(REFUSING)
    assert "refused" in REFUSING


CASES = [
    (name, index, lang)
    for name, samples in REFUSING.items()
    for index in range(len(samples))
    for lang in ("fr", "en")
]


@pytest.mark.parametrize(("name", "index", "lang"), CASES)
def test_every_refusing_email_gives_reasons_cnil_and_court(app, session, name, index, lang):
    """The text and the html part each give the reasons (or where), the CNIL and the court."""
    sample = REFUSING[name][index]
    message = sent(app, session, job_for(app, session, sample, lang))
    for part in ("plain", "html"):
        body = message.get_body(preferencelist=(part,))
        assert body is not None
        text = flat(str(body.get_content()))
        assert CNIL in text, (name, part)
        assert COURT[lang] in text, (name, part)
        for reason in reasons_of(app, sample, lang):
            assert reason in text, (name, part, reason)


# --- The status page ---------------------------------------------------------------

KEPT = {
    "source": "hospital",
    "category": "hospital.transfusion",
    "action": "retain",
    "count": 4,
    "label_fr": "Dossier transfusionnel",
    "label_en": "Transfusion record",
    "basis_fr": "CSP R.1112-7 ; RGPD art. 17.3.c",
    "basis_en": "CSP R.1112-7; GDPR Art. 17(3)(c)",
    "explanation_fr": "La loi impose de garder ce dossier trente ans.",
    "explanation_en": "The law keeps this record for thirty years.",
    "kept_until": "2051-01-01",
}
ERASED = KEPT | {"category": "care.exchange", "action": "erase", "kept_until": None}
RECTIFY = KEPT | {"action": "rectify", "corrected": 0, "fields": {}, "kept_until": None}
DISCLOSED = KEPT | {"action": "disclose", "not_found": 0, "kept_until": None}


def status_page(app: Flask, lang: str, **values: Any) -> str:
    """The status page of a request in the given state, as its requester reads it."""
    with time_machine.travel(NOW, tick=False):
        return _status_page(app, lang, **values)


def _status_page(app: Flask, lang: str, **values: Any) -> str:
    report = values.pop("report", None)
    package = values.pop("package", None)
    with app.app_context():
        request = Request(
            reference="DSR-2026-R3FUSE",
            kind="erasure",
            status="completed",
            locale=lang,
            first_name="Jeanne",
            last_name="Essai",
            birth_date=date(1970, 1, 2),
            email="jeanne.essai@example.org",
            email_normalized="jeanne.essai@example.org",
            created_at=NOW - timedelta(days=20),
            verified_at=NOW - timedelta(days=20),
            received_on=date(2026, 2, 28),
            due_on=date(2026, 3, 30),
            version=1,
            # Carried out, so proven: the page shows its report (app.identity).
            assurance="contact_match",
        )
        for key, value in values.items():
            setattr(request, key, value)
        db.session.add(request)
        db.session.flush()
        if report is not None:
            db.session.add(
                FulfilmentReport(
                    request_id=request.id, kind=request.kind, lines=report, created_at=NOW
                )
            )
        if package is not None:
            plan = Plan(
                request_id=request.id,
                number=1,
                outcome="matched",
                catalogue_digest="0" * 64,
                policy_digest="0" * 64,
                computed_on=date(2026, 2, 28),
                created_by="test",
            )
            db.session.add(plan)
            db.session.flush()
            db.session.add(AccessPackage(request_id=request.id, plan_id=plan.id, **package))
        row, value = tokens.link_values(request.id, tokens.STATUS_PAGE, NOW, 3600)
        db.session.add(LinkToken(**row))
        db.session.commit()
        signed = services_of(app).signer.sign(value, tokens.STATUS_PAGE)
        db.session.remove()
    client = app.test_client()
    client.get(f"/?lang={lang}")
    assert client.get(f"/s/{signed}").status_code == 303
    page = client.get("/status")
    assert page.status_code == 200
    return flat(page.get_data(as_text=True))


def assert_three(page: str, lang: str, *reasons: str) -> None:
    assert CNIL in page
    assert COURT[lang] in page
    for reason in reasons:
        assert flat(reason) in page, reason


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("ground", REFUSAL_GROUNDS)
def test_a_refused_request_page_gives_the_ground_cnil_and_court(app, lang, ground):
    """Denied on any ground: the page gives the ground, the CNIL and the court."""
    page = status_page(app, lang, status="denied", refusal_ground=ground, kind="access")
    with app.test_request_context(), force_locale(lang):
        label = str(REFUSAL_LABELS[ground])
    assert_three(page, lang, label)


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kind", ["erasure", "objection"])
def test_a_kept_category_is_explained_on_the_page_with_cnil_and_court(app, lang, kind):
    """An erasure or objection that keeps a category: its reason, basis, CNIL and court."""
    page = status_page(app, lang, kind=kind, report=[ERASED, KEPT])
    assert_three(page, lang, KEPT[f"explanation_{lang}"], KEPT[f"basis_{lang}"])


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_rectification_closed_as_accurate_says_why_on_the_page(app, lang):
    """Nothing corrected: the page says the data was found accurate, with CNIL and court."""
    page = status_page(app, lang, kind="rectification", report=[RECTIFY])
    with app.test_request_context(), force_locale(lang):
        accurate = flat(
            ngettext(
                "%(n)s record was checked: accurate, not changed.",
                "%(n)s records were checked: accurate, not changed.",
                RECTIFY["count"],
                n=RECTIFY["count"],
            )
        )
    assert_three(page, lang, accurate)


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("code", ["legal_obligation", "public_task"])
def test_a_portability_refused_gives_its_reason_on_the_page_with_cnil_and_court(app, lang, code):
    """Portability refused: the page says why (Art. 20(1)(a) or 20(3)), with CNIL and court."""
    package = {
        "format": "access",
        "portability_refused": code,
        "records_total": 4,
        "records_done": 4,
        "ready_at": NOW,
        "expires_at": NOW + timedelta(hours=72),
        "json_encrypted": b"x",
    }
    page = status_page(app, lang, kind="portability", report=[DISCLOSED], package=package)
    assert_three(page, lang, in_language(app, lang, PORTABILITY_REASON))
