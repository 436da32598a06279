"""Staff accounts: enrolment, sign-in with TOTP, sessions that end when they must."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, StaffUser
from app.services import services_of
from app.staffing import accounts
from tests.conftest import csrf_from, post_form
from tests.staffkit import enrolment_path

EMAIL = "agent.smith@example.org"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a different long passphrase"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def create(app: Flask, email: str = EMAIL, role: str = "agent") -> str:
    """A new account through the CLI; returns the enrolment path it emailed."""
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", email, "--role", role]
    )
    assert result.exit_code == 0, result.output
    return enrolment_path(app, email.strip().lower())


def secret_of(app: Flask, email: str = EMAIL) -> str:
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None
        secret = accounts.totp_secret(user, services_of(app).vault)
        db.session.remove()
        return secret


def enrolled(app: Flask, client: FlaskClient, email: str = EMAIL) -> str:
    """Create and enrol an account; returns its TOTP secret."""
    path = create(app, email)
    secret = secret_of(app, email)
    answer = post_form(
        client,
        path,
        {"password": PASSWORD, "confirm": PASSWORD, "code": pyotp.TOTP(secret).now()},
    )
    assert answer.status_code == 303, answer.data
    return secret


def sign_in(
    client: FlaskClient,
    secret: str,
    password: str = PASSWORD,
    page: str = "/staff/login",
    **kw: Any,
) -> Any:
    code = kw.get("code") or pyotp.TOTP(secret).now()
    return post_form(
        client, page, {"email": kw.get("email", EMAIL), "password": password, "code": code}
    )


def events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_create_enrol_login_logout(app: Flask, client: FlaskClient) -> None:
    """An account is created, enrolled, signs in, sees its home and signs out."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        answer = sign_in(client, secret)
        assert answer.status_code == 303
        # Sign-in lands on the requests, where the work is; the staff home still answers.
        assert answer.headers["Location"] == "/staff/queue"
        home = client.get("/staff/")
        assert home.status_code == 200
        assert EMAIL in home.get_data(as_text=True)
        out = client.post("/staff/logout", data={"csrf_token": csrf_from(home.data)})
        assert out.status_code == 303
        assert client.get("/staff/").status_code == 302
    actions = [e.action for e in events(app)]
    for action in ("staff.created", "staff.enrolled", "staff.login", "staff.logout"):
        assert action in actions


def test_enrol_page_shows_an_inline_qr_and_the_secret(app: Flask, client: FlaskClient) -> None:
    """The enrolment page carries the QR code as inline SVG and the key in text."""
    path = create(app)
    page = client.get(path)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in body and "data:" not in body
    assert secret_of(app)[:4] in body
    assert "img-src" not in page.headers["Content-Security-Policy"]


def test_unknown_user_and_wrong_password_look_the_same(app: Flask, client: FlaskClient) -> None:
    """The answer does not tell an unknown address from a wrong password."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
        wrong = sign_in(client, secret, password="not the password at all")
        unknown = sign_in(client, secret, email="nobody@example.org")

    def cleaned(answer: Any) -> str:
        text = answer.get_data(as_text=True).replace("nobody@example.org", EMAIL)
        return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", text)

    assert wrong.status_code == unknown.status_code == 401
    assert cleaned(wrong) == cleaned(unknown)


def test_a_code_is_not_accepted_twice(app: Flask, client: FlaskClient) -> None:
    """A TOTP code used at sign-in (or enrolment) cannot be used again."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
        # The enrolment spent the current step: the same code fails now.
        assert sign_in(client, secret).status_code == 401
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        code = pyotp.TOTP(secret).now()
        assert sign_in(client, secret, code=code).status_code == 303
        other = client.application.test_client()
        assert sign_in(other, secret, code=code).status_code == 401


def test_wrong_code_and_disabled_account_are_refused(app: Flask, client: FlaskClient) -> None:
    """A wrong code or a disabled account fails like any other sign-in error."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
    with time_machine.travel(START + timedelta(minutes=2), tick=False):
        assert sign_in(client, secret, code="000000").status_code == 401
        runner = app.test_cli_runner()
        assert runner.invoke(args=["staff", "disable", "--email", EMAIL]).exit_code == 0
        assert sign_in(client, secret).status_code == 401
        listing = runner.invoke(args=["staff", "list"])
        assert "disabled" in listing.output


def _signed_in(app: Flask, client: FlaskClient, at: datetime) -> str:
    with time_machine.travel(at - timedelta(minutes=1), tick=False):
        secret = enrolled(app, client)
    with time_machine.travel(at, tick=False):
        assert sign_in(client, secret).status_code == 303
    return secret


def test_logout_ends_other_sessions(app: Flask, client: FlaskClient) -> None:
    """Signing out in one browser ends the sessions of the same user in the others."""
    secret = _signed_in(app, client, START)
    other = app.test_client()
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert sign_in(other, secret).status_code == 303
        home = client.get("/staff/")
        client.post("/staff/logout", data={"csrf_token": csrf_from(home.data)})
        assert other.get("/staff/").status_code == 302


def test_password_change_ends_other_sessions(app: Flask, client: FlaskClient) -> None:
    """After a change of password, other sessions end and this one continues."""
    secret = _signed_in(app, client, START)
    other = app.test_client()
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert sign_in(other, secret).status_code == 303
        answer = post_form(
            client,
            "/staff/password",
            {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        )
        assert answer.status_code == 303
        assert client.get("/staff/").status_code == 200
        assert other.get("/staff/").status_code == 302
    with time_machine.travel(START + timedelta(minutes=2), tick=False):
        assert sign_in(other, secret, password=PASSWORD).status_code == 401
    with time_machine.travel(START + timedelta(minutes=3), tick=False):
        assert sign_in(other, secret, password=NEW_PASSWORD).status_code == 303


def test_disable_ends_sessions(app: Flask, client: FlaskClient) -> None:
    """Disabling an account ends its open sessions at once."""
    _signed_in(app, client, START)
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert client.get("/staff/").status_code == 200
        app.test_cli_runner().invoke(args=["staff", "disable", "--email", EMAIL])
        assert client.get("/staff/").status_code == 302


def test_idle_and_absolute_timeouts(app: Flask, client: FlaskClient) -> None:
    """15 minutes without a request end a session; activity keeps it alive up to 12 hours."""
    secret = _signed_in(app, client, START)
    with time_machine.travel(START + timedelta(minutes=14), tick=False):
        assert client.get("/staff/").status_code == 200
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        assert client.get("/staff/").status_code == 302
    later = START + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        assert sign_in(client, secret).status_code == 303
    moment = later
    while moment < later + timedelta(hours=11, minutes=50):
        moment += timedelta(minutes=10)
        with time_machine.travel(moment, tick=False):
            assert client.get("/staff/").status_code == 200
    with time_machine.travel(later + timedelta(hours=12, minutes=5), tick=False):
        assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/demo/mailbox"])
def test_next_only_follows_staff_paths(app: Flask, client: FlaskClient, target: str) -> None:
    """``next=`` pointing to another site (or outside the staff area) is ignored."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        answer = sign_in(client, secret, page=f"/staff/login?next={target}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/staff/queue"  # the landing, not the target


def test_next_follows_a_staff_path(app: Flask, client: FlaskClient) -> None:
    """A page of the staff area asked before sign-in is opened after it."""
    assert client.get("/staff/password").headers["Location"] == "/staff/login?next=/staff/password"
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        answer = sign_in(client, secret, page="/staff/login?next=/staff/password")
    assert answer.headers["Location"] == "/staff/password"


def test_login_rate_limit(app: Flask, client: FlaskClient) -> None:
    """The eleventh sign-in attempt within a minute from one address is refused."""
    with time_machine.travel(START, tick=False):
        token = csrf_from(client.get("/staff/login").data)
        data = {"email": EMAIL, "password": "x" * 12, "code": "123456", "csrf_token": token}
        answers = [client.post("/staff/login", data=data).status_code for _ in range(11)]
    assert answers[:10] == [401] * 10
    assert answers[10] == 429


def test_anonymous_is_sent_to_sign_in(client: FlaskClient) -> None:
    """Every staff page but sign-in and enrolment needs a session."""
    for page in ("/staff/", "/staff/password"):
        answer = client.get(page)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/staff/login")
    assert client.post("/staff/logout").status_code in (302, 400)


@pytest.mark.parametrize("shape", ["production", "test"])
def test_the_command_line_prints_no_link_outside_the_demo(app: Flask, shape: str) -> None:
    """`flask staff create` and `send-link` email the link and print none of it."""
    app.config["PORTAL_ENV"] = shape
    runner = app.test_cli_runner()
    created = runner.invoke(args=["staff", "create", "--email", EMAIL, "--role", "dpo"])
    assert created.exit_code == 0, created.output
    again = runner.invoke(args=["staff", "send-link", "--email", EMAIL])
    assert again.exit_code == 0, again.output
    for result in (created, again):
        assert "/staff/enrol/" not in result.output
        assert f"emailed to {EMAIL}" in result.output
    assert client_opens(app, enrolment_path(app, EMAIL))


def test_the_demo_prints_the_link_it_has_no_mailbox_for(app: Flask) -> None:
    """The demo has no real mailbox: its command line prints the link as well."""
    app.config["PORTAL_ENV"] = "demo"
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", EMAIL, "--role", "agent"]
    )
    assert result.exit_code == 0, result.output
    printed = result.output.strip().splitlines()[-1]
    assert printed == f"https://portal.example.org{enrolment_path(app, EMAIL)}"


def client_opens(app: Flask, path: str) -> bool:
    return app.test_client().get(path).status_code == 200


def test_enrolment_link_is_single_use(app: Flask, client: FlaskClient) -> None:
    """Once used, the enrolment link opens nothing."""
    path = create(app)
    secret = secret_of(app)
    with time_machine.travel(START, tick=False):
        data = {"password": PASSWORD, "confirm": PASSWORD, "code": pyotp.TOTP(secret).now()}
        assert post_form(client, path, data).status_code == 303
        assert client.get(path).status_code == 404


def test_enrolment_link_expires(app: Flask, client: FlaskClient) -> None:
    """An enrolment link is valid for 72 hours."""
    with time_machine.travel(START, tick=False):
        path = create(app)
    with time_machine.travel(START + timedelta(hours=71), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(START + timedelta(hours=73), tick=False):
        assert client.get(path).status_code == 410


def test_enrolment_refuses_short_password_and_wrong_code(app: Flask, client: FlaskClient) -> None:
    """Passwords under 12 characters and wrong codes are refused; long passwords are fine."""
    path = create(app)
    secret = secret_of(app)
    with time_machine.travel(START, tick=False):
        code = pyotp.TOTP(secret).now()
        short = post_form(
            client, path, {"password": "short pass", "confirm": "short pass", "code": code}
        )
        assert short.status_code == 422
        bad = post_form(
            client, path, {"password": PASSWORD, "confirm": PASSWORD, "code": "000000"}
        )
        assert bad.status_code == 422
        long = "word " * 200
        assert (
            post_form(client, path, {"password": long, "confirm": long, "code": code}).status_code
            == 303
        )


def test_password_hash_is_argon2id_with_required_parameters(
    app: Flask, client: FlaskClient
) -> None:
    """The stored hash is argon2id with m=19456 KiB, t=2, p=1."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == EMAIL))
        assert user is not None and user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert user.totp_secret_encrypted and secret not in user.totp_secret_encrypted
        db.session.remove()


def test_email_is_normalised(app: Flask, client: FlaskClient) -> None:
    """Capitals in the address do not make a second account, nor block sign-in."""
    create(app, "Agent.Smith@Example.org")
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", EMAIL, "--role", "dpo"]
    )
    assert result.exit_code == 1


def test_no_secret_in_the_audit_trail(app: Flask, client: FlaskClient) -> None:
    """Passwords, codes and the TOTP secret never appear in an audit event."""
    with time_machine.travel(START, tick=False):
        secret = enrolled(app, client)
    used = [PASSWORD, NEW_PASSWORD, "wrong password here", secret]
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        code = pyotp.TOTP(secret).now()
        used.append(code)
        sign_in(client, secret, password="wrong password here")
        sign_in(client, secret, code="999999")
        sign_in(client, secret)
        post_form(
            client,
            "/staff/password",
            {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        )
    rows = events(app)
    assert "staff.login_failed" in [e.action for e in rows]
    assert "staff.password_changed" in [e.action for e in rows]
    dumped = json.dumps([[e.actor, e.action, e.details] for e in rows])
    for value in [*used, "999999"]:
        assert value not in dumped
