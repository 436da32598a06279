"""The "check your answers" step: nothing is written before "Send", and what is sent is re-read."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from app import intake
from app.extensions import db
from app.models import Job, Request, utcnow
from app.public import check_answers
from tests.conftest import VALID_FILING, file_form, post_form, send_data


def _counts(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Request)),
            db.session.scalar(select(func.count()).select_from(Job)),
        )


def _check_page(client, data=VALID_FILING):
    page = post_form(client, "/", data)
    assert page.status_code == 200, page.status_code
    return page


def test_the_answers_are_shown_back_and_nothing_is_stored(app):
    """A valid form leads to the check page with every answer, a Change button each; no row."""
    page = _check_page(app.test_client())
    soup = BeautifulSoup(page.data, "html.parser")
    assert soup.h1.get_text() == "Vérifiez vos réponses avant d’envoyer votre demande"
    text = soup.find("main").get_text(" ", strip=True)
    for shown in ("Faire effacer mes données", "Élodie", "Martin-Dupont", "14 juillet 1980"):
        assert shown in text
    assert "elodie.martin@example.fr" in text and "255081416802538" in text
    changes = [b["value"] for b in soup.find_all("button", attrs={"name": "change"})]
    # For oneself: who it is for, the person's details, then the address and the free text.
    assert changes == [
        "kind",
        "for_whom",
        "first_name",
        "last_name",
        "birth_date",
        "nir",
        "email",
        "details",
    ]
    assert _counts(app) == (0, 0)


def test_sending_files_the_request_and_the_sent_page_repeats_the_address(app):
    """Send files one request; the next page names the address the link went to, once."""
    client = app.test_client()
    answer = file_form(client, VALID_FILING)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/request/sent")
    assert _counts(app) == (1, 1)
    sent = client.get("/request/sent").get_data(as_text=True)
    assert "elodie.martin@example.fr" in sent and "Le lien a été envoyé à" in sent
    again = client.get("/request/sent").get_data(as_text=True)
    assert "elodie.martin@example.fr" not in again


@pytest.mark.parametrize(
    ("change", "focused"),
    [("email", "email"), ("birth_date", "birth_date-day"), ("details", "details")],
)
def test_change_goes_back_to_the_form_with_every_answer_kept(app, change, focused):
    """ "Change" shows the form again, filled in, the cursor on the answer to change."""
    client = app.test_client()
    page = _check_page(client)
    answer = client.post("/request/send", data={**send_data(page.data), "change": change})
    assert answer.status_code == 200
    soup = BeautifulSoup(answer.data, "html.parser")
    assert soup.find(id="first_name")["value"] == "Élodie"
    assert soup.find(id="email")["value"] == "elodie.martin@example.fr"
    parts = [soup.find(id=f"birth_date-{p}")["value"] for p in ("day", "month", "year")]
    assert parts == ["14", "07", "1980"]
    assert soup.find(id="kind-0").has_attr("checked") is False
    assert soup.find("input", attrs={"name": "kind", "value": "erasure"}).has_attr("checked")
    assert "Lyon" in soup.find(id="details").get_text()
    assert soup.find(id=focused).has_attr("autofocus")
    assert not soup.find(class_="error-summary")
    assert _counts(app) == (0, 0)
    # The form shown again can be sent: it carries its own CSRF token.
    resent = client.post("/", data=send_data_of_form(soup))
    assert resent.status_code == 200 and b"/request/send" in resent.data


def send_data_of_form(soup):
    """What the form shown again sends as it is: its inputs, the checked radio."""
    data = {}
    for field in soup.select("form input, form textarea"):
        if field.get("type") == "radio" and not field.has_attr("checked"):
            continue
        data[field["name"]] = field.get("value", field.get_text())
    return data


def test_changed_answers_are_refused_and_nothing_is_stored(app):
    """Answers signed with another key (edited by hand) fail the signature: the form again."""
    client = app.test_client()
    data = send_data(_check_page(client).data)
    with app.test_request_context():
        forged = check_answers.seal(
            {**VALID_FILING, "email": "mallory@example.org"},  # type: ignore[arg-type]
            "another-secret-key-of-thirty-two-characters",
        )
    answer = client.post("/request/send", data={**data, "answers": forged})
    assert answer.status_code == 422
    assert "remplir le formulaire à nouveau" in answer.get_data(as_text=True)
    assert _counts(app) == (0, 0)


def test_answers_older_than_an_hour_are_refused(app):
    """The signed answers last an hour; after that the form is filled in again."""
    client = app.test_client()
    data = send_data(_check_page(client).data)
    with time_machine.travel(utcnow() + timedelta(seconds=check_answers.MAX_AGE + 60)):
        answer = client.post("/request/send", data=data)
    assert answer.status_code == 422
    assert _counts(app) == (0, 0)


def test_signed_answers_are_checked_again_on_sending(app):
    """Answers signed by the portal but invalid (a bad address) fail the form's own checks."""
    client = app.test_client()
    data = send_data(_check_page(client).data)
    with app.test_request_context():
        bad = check_answers.seal(
            {**VALID_FILING, "email": "not-an-address"},  # type: ignore[arg-type]
            app.config["SECRET_KEY"],
        )
    answer = client.post("/request/send", data={**data, "answers": bad})
    assert answer.status_code == 422
    assert "Saisissez une adresse" in answer.get_data(as_text=True)
    assert _counts(app) == (0, 0)


def test_a_failure_while_filing_leaves_no_half_written_row(app, monkeypatch):
    """If writing the verification email's job fails, the request row goes with it (500)."""
    client = app.test_client()
    data = send_data(_check_page(client).data)
    job_values = intake.jobs.job_values

    def broken(**values):
        # A column the table does not have: the job's insert fails after the request's.
        return {**job_values(**values), "no_such_column": 1}

    monkeypatch.setattr(intake.jobs, "job_values", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = client.post("/request/send", data=data)
    assert answer.status_code == 500
    assert _counts(app) == (0, 0)


def test_the_check_page_is_in_english_too(app):
    """The check page speaks the visitor's language."""
    client = app.test_client()
    client.get("/?lang=en")
    page = _check_page(client).get_data(as_text=True)
    assert "Check your answers before sending your request" in page
    assert "14 July 1980" in page and "Change" in page
