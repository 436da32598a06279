"""The mail transport: one SMTP session for a run of emails, headers that arrive as written."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select

from app import intake
from app.extensions import db
from app.models import Job, utcnow
from app.outbox import mailer
from app.services import services_of
from tests.conftest import run_jobs


def _file(app, count: int) -> None:
    portal = services_of(app)
    with app.app_context():
        for i in range(count):
            intake.file_request(
                db.session(),
                intake.Filing(
                    kind="access",
                    first_name="Jeanne",
                    last_name="Durand",
                    birth_date=date(1975, 3, 2),
                    email=f"person{i}@example.fr",
                    locale="fr",
                ),
                now=utcnow(),
                vault=portal.vault,
                names=portal.names,
                mail=portal.mail,
                per_address_per_hour=5,
            )
        db.session.commit()
        db.session.remove()


def _counting_opens(app, monkeypatch) -> list[int]:
    opened: list[int] = []
    connection = services_of(app).postman.connection
    real = connection._open

    def counted():
        opened.append(1)
        return real()

    monkeypatch.setattr(connection, "_open", counted)
    return opened


def test_a_run_of_emails_shares_one_smtp_session(smtp_app, smtp, monkeypatch):
    """Five emails in a batch: one connection to the server, five messages, five Message-IDs."""
    _file(smtp_app, 5)
    opened = _counting_opens(smtp_app, monkeypatch)
    assert run_jobs(smtp_app) == 5
    assert len(opened) == 1
    assert len(Counter(m["Message-ID"] for m in smtp.received.messages)) == 5


def test_a_server_that_went_away_is_reconnected_to(smtp_app, smtp, monkeypatch):
    """The server restarts between two emails: the second goes on a new session, once."""
    _file(smtp_app, 1)
    opened = _counting_opens(smtp_app, monkeypatch)
    run_jobs(smtp_app)
    smtp.stop()
    smtp.start()
    _file(smtp_app, 1)
    run_jobs(smtp_app)
    assert len(opened) == 2
    assert len(smtp.received.messages) == 2
    with smtp_app.app_context():
        assert set(db.session.scalars(select(Job.state))) == {"done"}


def test_the_idle_worker_lets_the_session_go(smtp_app, smtp):
    """Once nothing waits, the worker closes its session with the mail server."""
    _file(smtp_app, 1)
    run_jobs(smtp_app)
    postman = services_of(smtp_app).postman
    assert postman.connection.smtp is not None
    postman.idle()
    assert postman.connection.smtp is None


def test_accented_subjects_arrive_as_written_through_smtp(smtp_app, smtp):
    """Folded headers keep their words whole: no "identit é" on the receiving side."""
    subjects = [
        "Vérifiez votre identité",
        "Votre demande DSR-2026-000042 : votre opposition est enregistrée",
        "Votre demande DSR-2026-000042 : vérifiez votre identité, à réception, "
        "en ligne ; à défaut d’une pièce d’identité, écrivez-nous",
    ]
    connection = mailer.Connection(smtp_app.config)
    try:
        for number, subject in enumerate(subjects):
            data = mailer.message_bytes(
                "Portail des droits <ne-pas-repondre@localhost>",
                "elodie@example.fr",
                mailer.Rendered(subject, "Bonjour, à bientôt.", "<p>Bonjour, à bientôt.</p>"),
                f"<fold-{number}@portal.example.org>",
            )
            connection.send("ne-pas-repondre@localhost", "elodie@example.fr", data)
    finally:
        connection.close()
    assert [m["Subject"] for m in smtp.received.messages] == subjects
    body = smtp.received.messages[0].get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Bonjour, à bientôt."


def test_a_job_keeps_its_message_id_on_every_attempt(app):
    """A job queued without a Message-ID gets one derived from itself, the same each time."""
    _file(app, 1)
    with app.app_context():
        job = db.session.scalar(select(Job))
        stored = mailer.message_id_of(job, "portal.example.org")
        assert stored == job.message_id
        job.message_id = None
        derived = mailer.message_id_of(job, "portal.example.org")
        assert derived == mailer.message_id_of(job, "portal.example.org")
        assert derived.startswith(f"<job-{job.id}.") and derived.endswith("@portal.example.org>")
        db.session.rollback()


def test_the_sender_name_is_the_operators_and_the_address_stays(make_app, smtp):
    """MAIL_SENDER_NAME names the operator in the From header of what arrives."""
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_DEFAULT_SENDER="Portail des droits <ne-pas-repondre@hopital.example.fr>",
        MAIL_SENDER_NAME="Hôpital Exemple – Portail des droits",
    )
    _file(app, 1)
    assert run_jobs(app) == 1
    (message,) = smtp.received.messages
    assert message["From"].addresses[0].display_name == "Hôpital Exemple – Portail des droits"
    assert message["From"].addresses[0].addr_spec == "ne-pas-repondre@hopital.example.fr"


def test_without_a_sender_name_the_default_sender_is_used_as_written():
    """No MAIL_SENDER_NAME: the From header is MAIL_DEFAULT_SENDER, name and address."""
    config = {"MAIL_DEFAULT_SENDER": "Portail <a@example.fr>", "MAIL_SENDER_NAME": ""}
    assert mailer.sender_of(config) == "Portail <a@example.fr>"
    config["MAIL_SENDER_NAME"] = "CHU, Lyon"
    assert mailer.sender_of(config) == '"CHU, Lyon" <a@example.fr>'
