"""Requests made for someone else, filed through the form, and their proofs sent and decided."""

from __future__ import annotations

import io
from typing import Any

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Request
from tests.conftest import VALID_FILING, birth_parts, csrf_from, file_form, link_in, run_jobs
from tests.identity import files
from tests.staffkit import mail_to

PROOF_UPLOAD = "/status/relationship-proof"
CHILD = {
    **VALID_FILING,
    "kind": "access",
    "first_name": "Léa",
    "last_name": "Martin",
    **birth_parts("2015-03-02"),
    "nir": "",
    "details": "",
    "for_whom": "other",
    "requester_first_name": "Élodie",
    "requester_last_name": "Martin",
    **birth_parts("1980-07-14", "requester_birth_date"),
}
FILINGS = {
    "parent": {**CHILD, "acts_as": "parent", "email": "parent@example.fr"},
    "guardian": {
        **CHILD,
        **birth_parts("1950-05-06"),
        "first_name": "Paul",
        "acts_as": "guardian",
        "email": "tuteur@example.fr",
    },
    "mandatary": {
        **CHILD,
        **birth_parts("1960-05-06"),
        "first_name": "Jean",
        "acts_as": "mandatary",
        "email": "mandataire@example.fr",
    },
    "heir": {
        **CHILD,
        **birth_parts("1940-01-05"),
        "first_name": "Marcel",
        "acts_as": "heir",
        **birth_parts("2025-02-03", "died_on"),
        "heir_reason": "causes_of_death",
        "email": "heritier@example.fr",
    },
}


def file_and_verify(app: Flask, data: dict[str, Any]) -> tuple[FlaskClient, int, str]:
    """File through the form, open the emailed link, confirm, route; the requester's browser."""
    client = app.test_client()
    assert file_form(client, data).status_code == 303
    [verification] = mail_to(app, data["email"])
    path = link_in(verification)
    page = client.get(path)
    assert client.post(path, data={"csrf_token": csrf_from(page.data)}).status_code == 303
    run_jobs(app)
    found = request_of(app, data["email"])
    return client, found.id, str(found.reference)


def request_of(app: Flask, email: str) -> Request:
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.email == email))
        assert found is not None
        db.session.expunge_all()
        db.session.remove()
    return found


def send_proof(client: FlaskClient, code: str, data: bytes | None = None) -> Any:
    """Send one proof from the status page's form for ``code``."""
    page = client.get("/status")
    assert page.status_code == 200
    # The session's token: the status page has no form left once every proof was sent.
    token = csrf_from(page.data if b'name="csrf_token"' in page.data else client.get("/").data)
    form = {"csrf_token": token, "proof": code}
    form["document"] = (io.BytesIO(data or files.png()), "preuve.png", "image/png")
    return client.post(PROOF_UPLOAD, data=form, content_type="multipart/form-data")


def forms_for(page: bytes, action: str) -> list[dict[str, str]]:
    """The fields of every form of the page posting to ``action``."""
    soup = BeautifulSoup(page, "html.parser")
    found = []
    for form in soup.find_all("form", attrs={"action": action}):
        fields = {
            str(i["name"]): str(i.get("value", ""))
            for i in form.find_all("input")
            if i.get("name")
        }
        for select_ in form.find_all("select"):
            fields[str(select_["name"])] = ""
        found.append(fields)
    return found


def decide_all(agent: FlaskClient, reference: str, *, accept: bool, reason: str = "") -> int:
    """Accept (or refuse) every proof waiting on the case page, one after the other."""
    verb = "accept" if accept else "refuse"
    action = f"/staff/cases/{reference}/relationship-proof/{verb}"
    done = 0
    while True:
        page = agent.get(f"/staff/cases/{reference}")
        assert page.status_code == 200
        waiting = forms_for(page.data, action)
        if not waiting:
            return done
        fields = waiting[0]
        if not accept:
            fields["reason"] = reason
        answer = agent.post(action, data=fields)
        assert answer.status_code == 303, answer.data[:2000]
        done += 1
