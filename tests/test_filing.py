"""The public form: bad input gets a clear message and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, Request
from app.services import services_of
from tests.conftest import VALID_FILING, file_form, post_form

# Far enough ahead that a run crossing midnight still sees it in the future.
NEXT_MONTH = (date.today() + timedelta(days=30)).isoformat()

BAD_INPUT = [
    ("kind", "deletion-of-everything", "Choose what you want to do."),
    ("kind", "", "Choose what you want to do."),
    ("first_name", "", "Enter your first name."),
    ("first_name", "A" * 101, "Enter at most 100 characters."),
    ("first_name", "Jean\r\nBcc: victim@example.org", "Use letters only"),
    ("first_name", "Jean\u200b", "Use letters only"),  # a zero-width space
    ("first_name", "<script>", "Use letters only"),
    ("last_name", "Dupont\u202e", "Use letters only"),  # a right-to-left override
    ("last_name", "1234", "Use letters only"),
    ("email", "not-an-address", "Enter an email address such as name@example.fr."),
    ("email", "a@example.fr\r\nBcc: victim@example.org", "Enter an email address"),
    ("email", "a@example.fr\nX", "Enter an email address"),
    ("email", "x" * 250 + "@example.fr", "Enter at most 254 characters."),
    ("email", "", "Enter your email address."),
    ("nir", "255081416802539", "check the last two digits"),
    ("nir", "25508141680253", "15 characters"),
    ("nir", "2550814168025380", "15 characters"),
    ("nir", "25508141680X538", "only digits"),
    ("nir", "955081416802538", "check its first digit"),
    ("details", "x" * 2001, "Enter at most 2000 characters."),
    ("details", "hello\u200ebell", "Remove special characters"),  # a direction mark
]


def _counts(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Request)),
            db.session.scalar(select(func.count()).select_from(Job)),
        )


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_a_message_beside_the_field(app, field, value, message):
    """Each bad value gives a 422 page with its message next to the field; nothing is stored."""
    client = app.test_client()
    client.get("/?lang=en")
    response = file_form(client, {**VALID_FILING, field: value})
    assert response.status_code == 422
    soup = BeautifulSoup(response.data, "html.parser")
    error = soup.find(id=f"{field}-error")
    assert error is not None, f"no error beside {field}"
    assert message in error.get_text()
    summary = soup.find(class_="error-summary")
    assert summary is not None and message in summary.get_text()
    assert _counts(app) == (0, 0)
    # The value typed is echoed escaped, never as markup (the portal serves no script).
    assert b"<script" not in response.data


@pytest.mark.parametrize(
    ("field", "value"),
    [("first_name", "Jean\x00"), ("last_name", "Dupont\x1b[31m"), ("details", "hello\x07bell")],
)
def test_control_characters_get_the_refusal_page(app, field, value):
    """Control characters never reach the form: a 400 page saying why, nothing stored."""
    client = app.test_client()
    client.get("/?lang=en")
    response = file_form(client, {**VALID_FILING, field: value})
    assert response.status_code == 400
    assert "invisible control character" in response.get_data(as_text=True)
    assert _counts(app) == (0, 0)


def test_a_field_in_error_points_to_its_message(app):
    """The input is marked invalid and described by its error message, for screen readers."""
    client = app.test_client()
    response = file_form(client, {**VALID_FILING, "email": "nope"})
    soup = BeautifulSoup(response.data, "html.parser")
    field = soup.find("input", attrs={"name": "email"})
    assert field["aria-invalid"] == "true"
    assert "email-error" in field["aria-describedby"].split()


@pytest.mark.parametrize("path", ["/", "/status/link"])
def test_after_a_failed_submit_the_error_summary_takes_the_focus(app, path):
    """The summary opens the page and is focused on load (autofocus: no script needed)."""
    client = app.test_client()
    response = post_form(client, path, {**VALID_FILING, "email": "nope"})
    assert response.status_code == 422
    soup = BeautifulSoup(response.data, "html.parser")
    summary = soup.select_one("main .error-summary")
    assert summary is not None and summary.has_attr("autofocus")
    assert summary["tabindex"] == "-1"
    assert summary.find_next("h1") is not None  # above the heading, first thing read
    assert soup.select("[autofocus]") == [summary]


def test_the_form_works_in_french_by_default(app):
    """Without a choice, the page and its error messages are in French."""
    client = app.test_client()
    page = client.get("/")
    assert b'<html lang="fr">' in page.data
    response = file_form(client, {**VALID_FILING, "first_name": ""})
    assert "Saisissez votre prénom" in response.get_data(as_text=True)


def test_a_valid_filing_stores_an_unverified_request_and_one_email_job(app):
    """A valid form stores the request unverified, encrypted, with one verification job."""
    response = file_form(app.test_client(), VALID_FILING)
    assert response.status_code == 303
    assert _counts(app) == (1, 1)
    with app.app_context():
        request = db.session.scalar(select(Request))
        assert request.status == "unverified"
        assert request.reference is None and request.due_on is None
        assert request.nir_encrypted and "255081416802538" not in request.nir_encrypted
        assert request.details_encrypted and "Lyon" not in request.details_encrypted
        vault = services_of(app).vault
        assert vault.decrypt(request.nir_encrypted) == "255081416802538"
        job = db.session.scalar(select(Job))
        assert job.kind == "send_email" and job.payload["template"] == "verify"


def test_corsican_number_and_spaces_are_accepted(app):
    """A Corsican number typed with spaces is accepted and stored in canonical form."""
    response = file_form(app.test_client(), {**VALID_FILING, "nir": "2 53 07 2A 073 004 43"})
    assert response.status_code == 303
    with app.app_context():
        request = db.session.scalar(select(Request))
        assert services_of(app).vault.decrypt(request.nir_encrypted) == "253072A07300443"


def test_a_missing_csrf_token_is_refused_and_changes_nothing(app):
    """A POST without its CSRF token gets a clear 400 page and stores nothing."""
    response = app.test_client().post("/", data=VALID_FILING)
    assert response.status_code == 400
    assert _counts(app) == (0, 0)


def test_filings_per_address_are_capped_silently(make_app):
    """Past the hourly cap for one address, the same page shows but nothing is stored."""
    app = make_app(FILINGS_PER_ADDRESS_PER_HOUR=2)
    answers = [file_form(app.test_client(), VALID_FILING) for _ in range(4)]
    assert {a.status_code for a in answers} == {303}
    assert {a.headers["Location"] for a in answers} == {"/request/sent"}
    assert _counts(app) == (2, 2)


def test_filings_per_ip_are_rate_limited(make_app):
    """Past the per-IP limit, filing answers 429 with a clear page."""
    app = make_app(RATELIMIT_FILING="3 per hour")
    client = app.test_client()
    codes = [
        file_form(client, {**VALID_FILING, "email": f"p{i}@example.fr"}).status_code
        for i in range(4)
    ]
    assert codes == [303, 303, 303, 429]
    assert _counts(app) == (3, 3)


def test_an_oversized_body_is_refused(app):
    """A body over MAX_CONTENT_LENGTH is refused with 413 before anything is read."""
    response = app.test_client().post("/", data={"details": "x" * 300_000})
    assert response.status_code == 413
    assert _counts(app) == (0, 0)


# (day, month, year) typed -> the message, and the boxes marked wrong (the summary's link
# goes to the first of them).
BAD_DATES = [
    (("", "", ""), "Enter your date of birth.", ["day", "month", "year"]),
    (("14", "", "1980"), "The date of birth must include a month.", ["month"]),
    (("", "", "1980"), "The date of birth must include a day and a month.", ["day", "month"]),
    (("32", "7", "1980"), "The day must be a number between 1 and 31.", ["day"]),
    (("x", "7", "1980"), "The day must be a number between 1 and 31.", ["day"]),
    (("14", "13", "1980"), "The month must be a number between 1 and 12.", ["month"]),
    (("14", "0", "1980"), "The month must be a number between 1 and 12.", ["month"]),
    (("14", "7", "80"), "The year must have 4 digits, for example 1980.", ["year"]),
    (("14", "7", "١٩٨٠"), "The year must have 4 digits", ["year"]),  # Arabic-Indic digits
    (("31", "2", "1980"), "31/02/1980 does not exist: check the day", ["day", "month"]),
    (("29", "2", "1981"), "29/02/1981 does not exist", ["day", "month"]),
    (
        (NEXT_MONTH[8:], NEXT_MONTH[5:7], NEXT_MONTH[:4]),
        "The date of birth cannot be in the future.",
        ["day", "month", "year"],
    ),
    (("1", "1", "1850"), "Check the year of your date of birth.", ["year"]),
]


@pytest.mark.parametrize(("typed", "message", "wrong"), BAD_DATES)
def test_a_wrong_date_of_birth_names_the_part_that_is_wrong(app, typed, message, wrong):
    """The date's own message, the wrong boxes marked, the summary linking to the first one."""
    day, month, year = typed
    data = {
        **VALID_FILING,
        "birth_date-day": day,
        "birth_date-month": month,
        "birth_date-year": year,
    }
    client = app.test_client()
    client.get("/?lang=en")
    response = post_form(client, "/?lang=en", data, action="/")
    assert response.status_code == 422
    soup = BeautifulSoup(response.data, "html.parser")
    assert message in soup.find(id="birth_date-error").get_text()
    boxes = {p: soup.find(id=f"birth_date-{p}") for p in ("day", "month", "year")}
    marked = [p for p, box in boxes.items() if box.get("aria-invalid")]
    assert marked == wrong
    link = soup.select_one(".error-summary a")
    assert link["href"] == f"#birth_date-{wrong[0]}"
    assert _counts(app) == (0, 0)


def test_a_date_of_birth_keeps_what_was_typed_after_an_error(app):
    """Boxes typed in keep their value when the page comes back with an error."""
    data = {**VALID_FILING, "birth_date-day": "31", "birth_date-month": "2"}
    response = file_form(app.test_client(), data)
    soup = BeautifulSoup(response.data, "html.parser")
    assert soup.find(id="birth_date-day")["value"] == "31"
    assert soup.find(id="birth_date-year")["value"] == "1980"


def test_the_date_boxes_are_numeric_and_autocompleted_as_a_birthday(app):
    """inputmode numeric, bday-day/-month/-year, in a group named by the legend."""
    soup = BeautifulSoup(app.test_client().get("/").data, "html.parser")
    group = soup.find("fieldset", class_="date-input")
    assert group.find("legend").get_text(strip=True) == "Date de naissance"
    for part in ("day", "month", "year"):
        box = soup.find(id=f"birth_date-{part}")
        assert (box["inputmode"], box["autocomplete"]) == ("numeric", f"bday-{part}")
        assert soup.find("label", attrs={"for": f"birth_date-{part}"})


def test_a_date_of_birth_typed_with_leading_zeros_or_none_is_the_same_date(app):
    """14 / 07 / 1980 and 14 / 7 / 1980 are both 14 July 1980."""
    data = {**VALID_FILING, "birth_date-day": " 14 ", "birth_date-month": "07"}
    response = file_form(app.test_client(), data)
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Request.birth_date)) == date(1980, 7, 14)


def _redis_url() -> str | None:
    """TEST_REDIS_URL (default: database 15 on the local server), or None if unreachable."""
    import os

    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        return None
    return url


def test_rate_limits_are_counted_in_redis_when_configured(make_app):
    """With a Redis URI the per-IP counter lives in Redis, shared by every process."""
    import uuid

    import redis

    url = _redis_url()
    if url is None:
        pytest.skip("no Redis server on 127.0.0.1:6379 (CI has one)")
    prefix = f"test-{uuid.uuid4().hex}"
    app = make_app(
        RATELIMIT_STORAGE_URI=url, RATELIMIT_FILING="2 per hour", RATELIMIT_KEY_PREFIX=prefix
    )
    client = app.test_client()
    codes = [
        file_form(client, {**VALID_FILING, "email": f"r{i}@example.fr"}).status_code
        for i in range(3)
    ]
    assert codes == [303, 303, 429]
    server = redis.Redis.from_url(url)
    keys = server.keys(f"*{prefix}*")
    try:
        assert keys, "the limiter did not count in Redis"
    finally:
        if keys:
            server.delete(*keys)


def test_rate_limits_fall_back_to_memory_when_redis_is_down(make_app):
    """Redis unreachable: filing still answers, and the per-IP limit still holds in memory."""
    app = make_app(
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",  # the discard port: nothing listens
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_FILING="2 per hour",
    )
    client = app.test_client()
    codes = [
        file_form(client, {**VALID_FILING, "email": f"f{i}@example.fr"}).status_code
        for i in range(3)
    ]
    assert codes == [303, 303, 429]
    assert _counts(app) == (2, 2)


def test_production_falls_back_to_memory_by_default():
    """The fallback is on unless the operator turns it off (docs/deploy.md, "Redis down")."""
    from config import load_config
    from tests.test_config import GOOD_PRODUCTION

    assert load_config(GOOD_PRODUCTION)["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    off = {**GOOD_PRODUCTION, "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": "false"}
    assert load_config(off)["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is False
