"""Third parties' information (issue 18, point 7): free text reviewed and masked before release.

Jean-Baptiste Santoni's referral letter names his sister and her illness
(``app.demo.personas.SANTONI_SISTER``). His access is filed, routed and
claimed through the pages; the holder masks the passage on the case page,
says the review is done, approves; the worker builds the package. The
package holds the marker and the note, not the passage; the warehouse keeps
the letter as it was. Run with ``TEST_DATABASE_URL`` for PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.demo.personas import SANTONI_LETTER, SANTONI_SISTER
from app.extensions import db
from app.fulfilment import third_parties
from app.models import AuditEvent, Request, ThirdPartyRedaction, ThirdPartyReview
from tests.casework.test_cases import _version, act, case_of
from tests.conftest import csrf_from, run_jobs
from tests.fulfilment.test_packages import opened, package_of, reflection_over
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

_staff = itertools.count(1)
MARKER_FR = "[passage masqué\u202f: informations concernant un tiers]"
LETTER = ("care_exchanges", "referral_letters")


def santoni_case(app: Flask, smtp: Any) -> tuple[int, str, FlaskClient]:
    """Santoni's access, routed, its reflection period over, claimed by an agent."""
    client = app.test_client()
    request_id = file_and_route(app, smtp, client, filing_for(persona("Jean-Baptiste"), "access"))
    reflection_over(app, request_id)
    reference = case_of(app, request_id).reference
    assert reference
    agent, _ = staff_client(app, f"tp-agent{next(_staff)}@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    return request_id, reference, agent


def letter_key(app: Flask, request_id: int) -> str:
    """The record key of the letter naming the sister, from the plan."""
    with app.app_context():
        request = db.session.get_one(Request, request_id)
        keys = [
            k
            for line in request.plan.lines
            if line.action == "disclose"
            for k in (line.record_keys or {}).get("referral_letters", [])
        ]
        db.session.remove()
    assert len(keys) == 1
    return third_parties.encode_key(keys[0])


def review(client: FlaskClient, reference: str, **fields: Any) -> Any:
    """Press a button of the case page's third-party section (``act`` names the URL's
    last part ``action``, which is a field of this form)."""
    page = client.get(f"/staff/cases/{reference}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    version = _version(html) if 'name="version"' in html else ""
    data = {"csrf_token": csrf_from(page.data), "version": version, **fields}
    return client.post(f"/staff/cases/{reference}/third-parties", data=data)


def mask(agent: FlaskClient, reference: str, key: str, passage: str, **extra: Any) -> Any:
    source, table = LETTER
    return review(
        agent,
        reference,
        action="mask",
        source=source,
        table=table,
        key=key,
        column="body",
        passage=passage,
        **extra,
    )


def redactions_of(app: Flask, request_id: int) -> list[ThirdPartyRedaction]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(ThirdPartyRedaction).where(ThirdPartyRedaction.request_id == request_id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return rows


def events(app: Flask, request_id: int, prefix: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.request_id == request_id, AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        )
        for event in found:
            db.session.expunge(event)
        db.session.remove()
        return found


def warehouse_letter(warehouse: Path) -> str:
    connection = sqlite3.connect(warehouse)
    try:
        ((body,),) = connection.execute(
            "SELECT body FROM referral_letters WHERE body LIKE ?", ("%Martine Santoni%",)
        ).fetchall()
    finally:
        connection.close()
    return str(body)


def test_a_letter_naming_a_relative_is_masked_in_the_package_and_kept_in_the_source(
    smtp_app, smtp, warehouse
):
    """The holder reads the letter on the case page, masks the sister's sentence, says the
    review is done and approves: the package has the marker and the note, not the passage."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert 'id="third-parties"' in page
    assert "Mme Martine Santoni" in page  # the holder reads the text to review it
    key = letter_key(smtp_app, request_id)

    answer = mask(agent, reference, key, SANTONI_SISTER)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    assert answer.location.endswith("#third-parties")
    (redaction,) = redactions_of(smtp_app, request_id)
    start = SANTONI_LETTER.index(SANTONI_SISTER)
    assert (redaction.start_offset, redaction.end_offset) == (start, start + len(SANTONI_SISTER))
    assert redaction.text_sha256 == third_parties.digest(SANTONI_LETTER)
    # Nothing of the passage is stored: offsets and a digest of the whole text only.
    stored = json.dumps([str(v) for v in vars(redaction).values()], ensure_ascii=False)
    assert "Martine" not in stored and "cardiomyopathie" not in stored

    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert '<del class="masked"' in page and "Remettre ce passage" in page

    assert review(agent, reference, action="done").status_code == 303
    answer = act(agent, reference, "approve", _review=False)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    run_jobs(smtp_app)
    document, html = opened(smtp_app, package_of(smtp_app, request_id))
    text = json.dumps(document, ensure_ascii=False)
    assert "Martine" not in text and "cardiomyopathie" not in text
    assert "Martine" not in html and "cardiomyopathie" not in html
    (letter,) = [r for r in document["records"] if r["table"] == "referral_letters"]
    assert letter["fields"]["body"] == SANTONI_LETTER.replace(SANTONI_SISTER, MARKER_FR)
    assert letter["redacted"] == {"body": 1}
    assert document["redactions"]["passages"] == 1
    assert document["redactions"]["records"] == 1
    assert "L.1111-7" in document["redactions"]["reason"]
    assert "art. 15.4" in document["redactions"]["reason"]
    assert MARKER_FR in html
    assert "1 passage concernant une autre personne a été masqué" in html
    # The source keeps the original.
    assert warehouse_letter(warehouse) == SANTONI_LETTER


def test_approval_is_refused_until_the_review_is_done(smtp_app, smtp):
    """The holder cannot approve a plan whose letters nobody reviewed: a clear message, no
    change; a redaction added after the review voids it."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    answer = act(agent, reference, "approve", _review=False)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "peuvent nommer d’autres personnes" in page or "may name other people" in page
    assert case_of(smtp_app, request_id).status == "in_review"

    assert review(agent, reference, action="done").status_code == 303
    # A change after the review voids it: the review is given again.
    key = letter_key(smtp_app, request_id)
    assert mask(agent, reference, key, "Martine Santoni").status_code == 303
    with smtp_app.app_context():
        assert db.session.scalar(select(ThirdPartyReview)) is None
        db.session.remove()
    assert act(agent, reference, "approve", _review=False).status_code == 422
    assert case_of(smtp_app, request_id).status == "in_review"
    assert review(agent, reference, action="done").status_code == 303
    assert act(agent, reference, "approve", _review=False).status_code == 303
    assert case_of(smtp_app, request_id).status in ("approved", "fulfilling", "completed")


def test_the_confirmation_page_says_how_many_passages_are_masked(smtp_app, smtp):
    """The approval's confirmation step names what is released and, when the review
    masked passages about other people, how many, counted as the package counts them
    (overlapping passages make one); nothing is said when none was masked."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    assert review(agent, reference, action="done").status_code == 303
    shown = act(agent, reference, "approve", _review=False, confirm="")
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert 'name="confirm" type="hidden" value="yes"' in html
    assert 'id="masked-for-others"' not in html

    key = letter_key(smtp_app, request_id)
    for passage in ("Mme Martine Santoni", "Martine Santoni, suivie", "bilan génétique"):
        assert mask(agent, reference, key, passage).status_code == 303
    assert review(agent, reference, action="done").status_code == 303
    shown = act(agent, reference, "approve", _review=False, confirm="")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert (
        "2 passages concernant des tiers sont masqués dans la copie (RGPD art. 15.4)"
        "\u202f; les sources ne sont pas modifiées." in html
    ), html[:3000]
    assert "Martine" not in html.split('id="masked-for-others"', 1)[1].split("</p>", 1)[0]
    assert case_of(smtp_app, request_id).status == "in_review"  # the first press decides nothing

    agent.get("/staff/queue?lang=en")
    english = act(agent, reference, "approve", _review=False, confirm="")
    assert english.status_code == 200
    assert (
        "2 passages about other people are masked in the copy (GDPR Art. 15(4)); "
        "the sources are unchanged." in english.get_data(as_text=True)
    )
    # The second press approves; the package masks the same two passages.
    confirmed = act(agent, reference, "approve", _review=False)
    assert confirmed.status_code == 303
    run_jobs(smtp_app)
    document, _html = opened(smtp_app, package_of(smtp_app, request_id))
    assert document["redactions"]["passages"] == 2


def test_the_build_refuses_a_plan_whose_free_text_was_not_reviewed(smtp_app, smtp):
    """Defence in depth: the package is never built from unreviewed free text."""
    request_id, _, _ = santoni_case(smtp_app, smtp)
    with smtp_app.app_context():
        from app.services import services_of

        request = db.session.get_one(Request, request_id)
        catalogue = services_of(smtp_app).catalogue
        assert third_parties.needs_review(request, catalogue)
        try:
            third_parties.check_reviewed(db.session(), request, catalogue)
        except third_parties.cases.CaseError as refusal:
            assert refusal.reason == "third_parties_unreviewed"
        else:  # pragma: no cover
            raise AssertionError("an unreviewed plan passed")
        db.session.remove()


def test_a_passage_not_in_the_text_is_refused_and_nothing_is_stored(smtp_app, smtp):
    """A passage that is not in the letter (a typo, another person) is refused, clearly."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    key = letter_key(smtp_app, request_id)
    version_before = case_of(smtp_app, request_id).version
    answer = mask(agent, reference, key, "Sa soeur, Mme Martine Santoni")  # "oe", not "œ"
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "n’est pas dans le texte" in page or "is not in the record" in page
    assert redactions_of(smtp_app, request_id) == []
    assert events(smtp_app, request_id, "third_parties.") == []
    assert case_of(smtp_app, request_id).version == version_before
    # Empty, or an offset that does not fall on the passage: refused too.
    assert mask(agent, reference, key, "   ").status_code == 422
    assert mask(agent, reference, key, "Martine", start="0").status_code == 422
    # Another record than the plan's: refused.
    assert mask(agent, reference, "[999999]", "Martine").status_code == 422
    assert redactions_of(smtp_app, request_id) == []


def test_the_redaction_audit_carries_no_text_and_no_category(smtp_app, smtp):
    """Audit events of the review: ids and counts, never the passage, a category or a table."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    key = letter_key(smtp_app, request_id)
    assert mask(agent, reference, key, SANTONI_SISTER).status_code == 303
    (redaction,) = redactions_of(smtp_app, request_id)
    review(agent, reference, action="unmask", redaction=str(redaction.id))
    assert mask(agent, reference, key, "Martine Santoni").status_code == 303
    assert review(agent, reference, action="done").status_code == 303
    found = events(smtp_app, request_id, "third_parties.")
    assert [e.action for e in found] == [
        "third_parties.redacted",
        "third_parties.unredacted",
        "third_parties.redacted",
        "third_parties.reviewed",
    ]
    reads = [
        e
        for e in events(smtp_app, request_id, "case.source_read")
        if e.details.get("screen") == "third_parties"
    ]
    assert reads and all(e.details.get("records") == 1 for e in reads)
    for event in [*found, *reads]:
        details = json.dumps(event.details, ensure_ascii=False)
        for word in ("Martine", "sœur", "cardiomyopathie", "care.", "referral", "body", "letter"):
            assert word not in details, (event.action, details)
    assert found[0].details == {"redactions": [redaction.id], "count": 1}
    assert found[-1].details == {"records": 1, "redactions": 1}


def test_a_redaction_can_be_removed_before_release_and_not_after(smtp_app, smtp):
    """Put back before the approval: the passage is in the package. After it: refused."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    key = letter_key(smtp_app, request_id)
    assert mask(agent, reference, key, SANTONI_SISTER).status_code == 303
    (redaction,) = redactions_of(smtp_app, request_id)
    answer = review(agent, reference, action="unmask", redaction=str(redaction.id))
    assert answer.status_code == 303
    assert redactions_of(smtp_app, request_id) == []
    # Mask the name only this time, review, approve.
    assert mask(agent, reference, key, "Martine Santoni").status_code == 303
    assert review(agent, reference, action="done").status_code == 303
    assert act(agent, reference, "approve", _review=False).status_code == 303
    (kept,) = redactions_of(smtp_app, request_id)
    # After the approval the redactions are fixed: the package is built from them.
    answer = review(agent, reference, action="unmask", redaction=str(kept.id))
    assert answer.status_code == 422
    assert len(redactions_of(smtp_app, request_id)) == 1
    run_jobs(smtp_app)
    document, _ = opened(smtp_app, package_of(smtp_app, request_id))
    (letter,) = [r for r in document["records"] if r["table"] == "referral_letters"]
    assert "Martine" not in letter["fields"]["body"]
    assert "cardiomyopathie hypertrophique" in letter["fields"]["body"]  # only the name masked


def test_only_the_holder_masks_and_another_agent_sees_counts_only(smtp_app, smtp):
    """Need to know: an agent who does not hold the case neither reads nor masks the text."""
    request_id, reference, _ = santoni_case(smtp_app, smtp)
    other, _ = staff_client(smtp_app, f"tp-other{next(_staff)}@example.org", "agent")
    page = other.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert 'id="third-parties"' in page
    assert "Martine" not in page
    key = letter_key(smtp_app, request_id)
    version = str(case_of(smtp_app, request_id).version)
    assert mask(other, reference, key, "Martine Santoni", version=version).status_code == 403
    assert redactions_of(smtp_app, request_id) == []


def test_apply_masks_merged_spans_and_the_whole_text_when_it_changed():
    """Overlapping spans make one passage; a text changed since the review is masked whole."""
    text = "Vu avec sa fille Julie Martin, institutrice. RAS."
    sha = third_parties.digest(text)
    start = text.index("Julie")
    spans = [(start, start + 5, sha), (start + 3, start + 12, sha)]
    masked, count = third_parties.apply(text, spans, "[X]")
    assert (masked, count) == ("Vu avec sa fille [X], institutrice. RAS.", 1)
    assert third_parties.apply(text, [], "[X]") == (text, 0)
    changed = text.replace("RAS", "Rien")
    assert third_parties.apply(changed, spans, "[X]") == ("[X]", 1)


def test_a_text_changed_since_it_was_masked_is_masked_whole_and_can_be_put_back(smtp_app, smtp):
    """Offsets chosen in another text are not trusted: the case page says so and offers to
    put the passage back; the package masks the whole text."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    key = letter_key(smtp_app, request_id)
    assert mask(agent, reference, key, "Martine Santoni").status_code == 303
    (redaction,) = redactions_of(smtp_app, request_id)
    with smtp_app.app_context():
        # As if the letter had been edited in its source after the passage was chosen.
        db.session.get_one(ThirdPartyRedaction, redaction.id).text_sha256 = "0" * 64
        db.session.commit()
        db.session.remove()
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "Ce texte a changé dans sa source" in page
    assert "Un passage masqué dans une version antérieure de ce texte" in page
    assert review(agent, reference, action="done").status_code == 303
    assert act(agent, reference, "approve", _review=False).status_code == 303
    run_jobs(smtp_app)
    document, _ = opened(smtp_app, package_of(smtp_app, request_id))
    (letter,) = [r for r in document["records"] if r["table"] == "referral_letters"]
    assert letter["fields"]["body"] == MARKER_FR


def test_the_marker_and_the_note_in_english():
    """The English package's marker and note."""
    from app.fulfilment.package_words import redacted, words

    assert words("en")["redacted_marker"] == "[passage removed: information about another person]"
    assert words("fr")["redacted_marker"] == MARKER_FR
    assert redacted("en", 2) == "2 passages about other people were masked in this copy."
    assert "L.1110-4" in words("en")["redactions_reason"]


def test_a_passage_masks_every_occurrence_and_a_selection_its_place_only(smtp_app, smtp):
    """ "Santoni" is twice in the letter (the patient and his sister): typed, both places are
    masked; chosen by selection (its offset), that place only."""
    request_id, reference, agent = santoni_case(smtp_app, smtp)
    key = letter_key(smtp_app, request_id)
    assert SANTONI_LETTER.count("Santoni") == 2
    assert mask(agent, reference, key, "Santoni").status_code == 303
    assert len(redactions_of(smtp_app, request_id)) == 2
    for row in redactions_of(smtp_app, request_id):
        answer = review(agent, reference, action="unmask", redaction=str(row.id))
        assert answer.status_code == 303
    sister = SANTONI_LETTER.index("Martine Santoni") + len("Martine ")
    assert mask(agent, reference, key, " Santoni ", start=str(sister)).status_code == 303
    (row,) = redactions_of(smtp_app, request_id)
    assert (row.start_offset, row.end_offset) == (sister, sister + len("Santoni"))
