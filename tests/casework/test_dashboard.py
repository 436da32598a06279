"""The staff dashboard: figures computed by the database, charts drawn as safe SVG."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from babel.dates import format_date
from bs4 import BeautifulSoup

from app.casework import charts, stats
from app.deadlines import receipt_date
from app.extensions import db
from app.models import KINDS, Request, utcnow
from tests.staffkit import staff_client

# A Wednesday in winter (Paris is UTC+1): its ISO week starts on Monday 16 March.
NOW = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
TODAY = date(2026, 3, 18)
_numbers = itertools.count(1)


def make_request(
    *,
    kind: str = "access",
    status: str = "triage",
    received_on: date | None = TODAY,
    due_on: date | None = None,
    closed_at: datetime | None = None,
    paused_at: datetime | None = None,
) -> Request:
    """A request row as the lifecycle would have left it, with fixed dates."""
    number = next(_numbers)
    created = datetime.combine(received_on or TODAY, time(8), tzinfo=UTC)
    return Request(
        reference=f"DSR-2026-T{number:05d}",
        kind=kind,
        status=status,
        first_name="Anne",
        last_name="Lévy",
        birth_date=date(1990, 1, 2),
        email=f"anne{number}@example.fr",
        email_normalized=f"anne{number}@example.fr",
        created_at=created,
        verified_at=None if status == "unverified" else created,
        received_on=None if status == "unverified" else received_on,
        due_on=due_on if due_on is not None else (received_on or TODAY) + timedelta(days=30),
        closed_at=closed_at,
        paused_at=paused_at,
    )


def closed(
    received_on: date, days: int, *, due_in: int = 30, kind: str = "access", status="completed"
) -> Request:
    """A request answered ``days`` days after receipt, at noon Paris time."""
    answered = datetime.combine(received_on + timedelta(days=days), time(11), tzinfo=UTC)
    return make_request(
        kind=kind,
        status=status,
        received_on=received_on,
        due_on=received_on + timedelta(days=due_in),
        closed_at=answered,
    )


def test_backlog_counts_open_and_overdue_requests_per_right(session):
    """Open means verified and not closed; overdue means due before today, clock running."""
    yesterday = TODAY - timedelta(days=1)
    session.add_all(
        [
            make_request(kind="access", status="triage", due_on=TODAY + timedelta(days=5)),
            make_request(kind="access", status="in_review", due_on=yesterday),
            # Due today is still in time.
            make_request(kind="erasure", status="awaiting_requester", due_on=TODAY),
            make_request(kind="erasure", status="received", due_on=yesterday),
            # Waiting for a proof of identity: the clock is paused, so not late.
            make_request(
                kind="access", status="awaiting_identity", due_on=yesterday, paused_at=utcnow()
            ),
            make_request(kind="objection", status="unverified", due_on=yesterday),
            make_request(kind="objection", status="expired", due_on=yesterday),
            make_request(kind="access", status="withdrawn", due_on=yesterday),
            closed(TODAY - timedelta(days=40), 35),
        ]
    )
    session.flush()

    backlog = stats.backlog(session, TODAY)

    assert (backlog.total_open, backlog.total_overdue) == (5, 2)
    assert backlog.open == {
        "access": 3,
        "portability": 0,
        "erasure": 2,
        "objection": 0,
        "rectification": 0,
    }
    assert backlog.overdue["access"] == 1
    assert backlog.overdue["erasure"] == 1


def test_weekly_counts_cover_twelve_iso_weeks_per_right(session):
    """Weeks run Monday to Sunday; other weeks and unverified requests are left out."""
    first_monday = date(2025, 12, 29)
    session.add_all(
        [
            make_request(kind="erasure", received_on=TODAY),
            make_request(kind="erasure", received_on=date(2026, 3, 16), status="completed"),
            make_request(kind="access", received_on=date(2026, 3, 15)),  # previous week
            make_request(kind="portability", received_on=first_monday),
            make_request(kind="portability", received_on=first_monday - timedelta(days=1)),
            make_request(kind="erasure", received_on=TODAY + timedelta(days=1)),
            make_request(kind="erasure", status="unverified", received_on=TODAY),
        ]
    )
    session.flush()

    weeks = stats.weekly_received(session, TODAY)

    assert len(weeks) == 12
    assert [w.start for w in (weeks[0], weeks[-2], weeks[-1])] == [
        first_monday,
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]
    assert all(w.start.weekday() == 0 for w in weeks)
    assert weeks[-1].counts == {**dict.fromkeys(KINDS, 0), "erasure": 2}
    assert weeks[-2].counts["access"] == 1
    assert weeks[0].counts == {**dict.fromkeys(KINDS, 0), "portability": 1}
    assert sum(w.total for w in weeks) == 4
    assert weeks[-1].iso_week == 12


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [
        ({}, None),
        ({7: 1}, 7.0),
        ({3: 1, 10: 1, 20: 1}, 10.0),
        ({3: 1, 10: 1, 20: 1, 30: 1}, 15.0),
        ({2: 3, 9: 1}, 2.0),
        ({2: 2, 9: 2}, 5.5),
    ],
)
def test_median_of_a_histogram(histogram, expected):
    """The median of values given with their counts, halfway for an even count."""
    assert stats.median(histogram) == expected


def test_median_and_share_in_time_over_an_odd_number_of_answers(session):
    """Median days and share in time over requests completed or refused in the window."""
    start = date(2026, 1, 5)
    session.add_all(
        [
            closed(start, 3),
            closed(start, 10, kind="erasure", status="denied"),
            closed(start, 40, kind="erasure"),  # due after 30 days: late
            # Closed more than 12 months ago, withdrawn, or still open: not answers.
            closed(date(2025, 2, 1), 1),
            closed(start, 2, status="withdrawn"),
            make_request(received_on=start),
        ]
    )
    session.flush()

    figures = stats.dashboard(session, NOW)

    assert figures.answered_since == date(2025, 3, 19)
    assert (figures.answers.answered, figures.answers.in_time) == (3, 2)
    assert figures.answers.median_days == 10
    assert figures.answers.share_in_time == pytest.approx(2 / 3)
    erasure = figures.answers_by_kind["erasure"]
    assert (erasure.answered, erasure.in_time, erasure.median_days) == (2, 1, 25.0)
    assert figures.answers_by_kind["objection"].share_in_time is None


def test_median_over_an_even_number_of_answers(session):
    """With an even count the median is halfway between the two middle values."""
    start = date(2026, 1, 5)
    session.add_all([closed(start, days) for days in (3, 10, 20, 31)])
    session.flush()

    answers = stats.dashboard(session, NOW).answers

    assert answers.median_days == 15.0
    assert (answers.answered, answers.in_time) == (4, 3)


def test_time_to_answer_counts_paris_dates_in_summer_and_winter(session):
    """22:30 UTC is the next day in Paris in summer (UTC+2) but the same day in winter."""
    summer, winter = date(2025, 7, 1), date(2026, 1, 1)
    session.add_all(
        [
            make_request(
                received_on=summer,
                due_on=date(2025, 7, 10),
                status="completed",
                closed_at=datetime(2025, 7, 10, 22, 30, tzinfo=UTC),
            ),
            make_request(
                kind="erasure",
                received_on=winter,
                due_on=date(2026, 1, 10),
                status="completed",
                closed_at=datetime(2026, 1, 10, 22, 30, tzinfo=UTC),
            ),
        ]
    )
    session.flush()

    by_kind = stats.answers_by_kind(session, TODAY)

    assert (by_kind["access"].days, by_kind["access"].in_time) == ({10: 1}, 0)
    assert (by_kind["erasure"].days, by_kind["erasure"].in_time) == ({9: 1}, 1)


def test_the_answer_window_ends_today(session):
    """A request closed after today is not counted (figures are as of ``now``)."""
    session.add(closed(TODAY - timedelta(days=5), 6))
    session.flush()

    assert stats.dashboard(session, NOW).answers.answered == 0
    assert stats.dashboard(session, NOW + timedelta(days=1)).answers.answered == 1


def test_stacked_bars_escape_every_text():
    """Labels come from translations: they are escaped, never markup."""
    evil = '<script>alert("x")</script>'
    svg = charts.stacked_bars(
        chart_id="weekly",
        title=evil,
        description=evil,
        categories=[evil, "b"],
        series=[charts.Series(evil, [1, 0]), charts.Series("B", [2, 3])],
        number=lambda n: f"{n}{evil}",
    )

    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    assert 'role="img"' in svg


def test_horizontal_bars_escape_every_text():
    """Bar labels and values are escaped too."""
    svg = charts.horizontal_bars(
        chart_id="in-time",
        title="<b>t</b>",
        description="d",
        bars=[charts.Bar("<script>", 0.5, "50 % <i>")],
    )

    assert "<script" not in svg and "<b>" not in svg and "<i>" not in svg
    assert "&lt;script&gt;" in svg


def test_stacked_bars_draw_one_segment_per_non_zero_value():
    """Each non-zero value is a segment; each bar's total is written above it."""
    svg = charts.stacked_bars(
        chart_id="c",
        title="t",
        description="d",
        categories=["w1", "w2"],
        series=[charts.Series("A", [1, 0]), charts.Series("B", [2, 3])],
    )
    soup = BeautifulSoup(str(svg), "html.parser")

    segments = [r for r in soup.find_all("rect") if r.find("title")]
    assert [s.title.string for s in segments] == ["A: 1", "B: 2", "B: 3"]
    assert [t.string for t in soup.find_all("text", class_="chart-value")] == ["3", "3"]


def test_a_chart_id_must_be_a_plain_identifier():
    """Ids end up in attributes and url(#...) references: nothing else is accepted."""
    with pytest.raises(ValueError):
        charts.horizontal_bars(chart_id='x" onload="y', title="t", description="d", bars=[])


def _add_rows(app, rows):
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("role", ["agent", "dpo"])
def test_dashboard_page_shows_charts_and_numbers(app, role):
    """Agents and DPOs see the SVG charts and the same numbers in tables."""
    today = receipt_date(utcnow())
    _add_rows(
        app,
        [
            make_request(kind="erasure", received_on=today),
            make_request(kind="erasure", received_on=today),
            make_request(
                kind="erasure",
                received_on=today - timedelta(days=40),
                due_on=today - timedelta(days=1),
            ),
            closed(today - timedelta(days=20), 4, kind="access"),
        ],
    )
    client, _ = staff_client(app, f"{role}@example.org", role)

    answer = client.get("/staff/dashboard")

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select('figure svg[role="img"] title')
    assert [dd.get_text(strip=True) for dd in soup.select(".tile-value")][:2] == ["3", "1"]
    headers = [th.get_text(strip=True) for th in soup.select("#weekly-data thead th")]
    this_week = soup.select("#weekly-data tbody tr")[-1]
    cells = dict(zip(headers[1:], [td.get_text(strip=True) for td in this_week.select("td")]))
    assert cells[headers[1 + KINDS.index("erasure")]] == "2"
    assert cells[headers[-1]] == "2"
    answered = soup.select("#answers-data tbody tr")[0].select("td")
    assert [td.get_text(strip=True) for td in answered][:2] == ["1", "1"]
    assert "style=" not in html
    assert "<script" not in html
    assert "<style" not in html


def test_week_labels_follow_the_page_language(app):
    """Under each bar, the week's Monday in the reader's language."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    monday = stats.first_week(receipt_date(utcnow()), 1)

    french = client.get("/staff/dashboard?lang=fr").get_data(as_text=True)
    english = client.get("/staff/dashboard?lang=en").get_data(as_text=True)

    assert format_date(monday, "d MMM", locale="fr") in french
    assert format_date(monday, "d MMM", locale="en") in english


def test_an_empty_database_renders_the_dashboard(app):
    """No request at all: zeros, and no answer figures rather than a division by zero."""
    client, _ = staff_client(app, "agent@example.org", "agent")

    answer = client.get("/staff/dashboard")

    assert answer.status_code == 200
    soup = BeautifulSoup(answer.data, "html.parser")
    assert [dd.get_text(strip=True) for dd in soup.select(".tile-value")] == ["0", "0", "—", "—"]
    assert soup.select_one(".empty-figures") is not None
    assert soup.select_one("#answers-data") is None
    assert soup.select('svg[role="img"]')


def test_an_administrator_may_not_see_the_dashboard(app):
    """Admins manage accounts and never see cases, figures about cases included."""
    client, _ = staff_client(app, "admin@example.org", "admin")

    assert client.get("/staff/dashboard").status_code == 403


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    """The staff blueprint is closed by default."""
    answer = client.get("/staff/dashboard")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/staff/login")


def test_time_to_answer_leaves_out_the_suspended_days(session):
    """Answered 40 days after receipt with 15 days suspended: 25 days to answer."""
    late_looking = closed(date(2026, 1, 5), 40, due_in=45)
    late_looking.paused_days = 15
    session.add_all([late_looking])
    session.flush()
    figures = stats.dashboard(session, NOW)
    assert figures.answers.median_days == 25
    assert figures.answers.in_time == 1


def test_each_figure_says_how_many_cases_it_covers(app):
    """ "100 % in time" on 2 answers beside overdue open ones says both counts, in English."""
    today = receipt_date(utcnow())
    _add_rows(
        app,
        [
            closed(today - timedelta(days=20), 4),
            closed(today - timedelta(days=20), 5),
            *[
                make_request(
                    received_on=today - timedelta(days=40), due_on=today - timedelta(days=2)
                )
                for _ in range(6)
            ],
        ],
    )
    client, _ = staff_client(app, "agent@example.org", "agent")
    soup = BeautifulSoup(client.get("/staff/dashboard?lang=en").data, "html.parser")
    basis = [dd.get_text(" ", strip=True) for dd in soup.select(".tile-basis")]
    assert basis[1] == "of 6 open requests, clock running"
    assert basis[2] == "over 2 requests answered in 12 months, suspended days left out"
    assert basis[3] == "2 of 2 answered requests; 6 open requests already overdue are not counted"
