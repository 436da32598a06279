"""The dashboard: counts, requests per week, time to answer, drawn as SVG by the portal.

``app.casework.stats`` computes the figures and ``app.casework.charts`` draws them; this view
only gives the charts their words and numbers in the reader's language.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import format_date, format_decimal, format_percent
from flask_babel import gettext as _
from markupsafe import Markup

from app.casework import charts, stats
from app.extensions import db
from app.labels import KIND_LABELS
from app.models import KINDS, utcnow
from app.staff.access import requires
from app.staff.routes import bp
from app.staffing import roles


def _number(value: float) -> str:
    return str(format_decimal(value))


def percent(share: float) -> str:
    return str(format_percent(share))


def week_label(week: stats.Week) -> str:
    """A week named by its Monday, short enough to sit under a bar ("2 mars")."""
    return str(format_date(week.start, "d MMM"))


def weekly_chart(weeks: list[stats.Week]) -> Markup:
    return charts.stacked_bars(
        chart_id="weekly",
        title=_("Requests received per week, by right"),
        description=_(
            "Verified requests received in each of the last %(count)s weeks, each bar "
            "labelled by the Monday of its week and split by right. The table below "
            "gives the same numbers.",
            count=len(weeks),
        ),
        categories=[week_label(week) for week in weeks],
        series=[
            charts.Series(str(KIND_LABELS[kind]), [week.counts[kind] for week in weeks])
            for kind in KINDS
        ],
        number=_number,
    )


def answer_rows(figures: stats.Dashboard) -> list[tuple[str, stats.Answers]]:
    """All rights first, then each right: the rows of the answers table and chart."""
    return [(_("All rights"), figures.answers)] + [
        (str(KIND_LABELS[kind]), figures.answers_by_kind[kind]) for kind in KINDS
    ]


def share_chart(figures: stats.Dashboard) -> Markup | None:
    """Share answered in time, all rights then each right that had an answer."""
    if not figures.answers.answered:
        return None
    bars = [
        charts.Bar(label, answers.share_in_time or 0.0, percent(answers.share_in_time or 0.0))
        for label, answers in answer_rows(figures)
        if answers.answered
    ]
    return charts.horizontal_bars(
        chart_id="in-time",
        title=_("Share of requests answered in time"),
        description=_(
            "For all rights, then for each right, the share of requests answered by "
            "their due date. The table below gives the same numbers."
        ),
        bars=bars,
    )


@bp.get("/dashboard")
@requires(roles.VIEW_CASES)
def dashboard() -> str:
    figures = stats.dashboard(db.session(), utcnow())
    return render_template(
        "staff/dashboard.html",
        figures=figures,
        kinds=KINDS,
        week_label=week_label,
        percent=percent,
        answer_rows=answer_rows(figures),
        weekly_chart=weekly_chart(figures.weeks),
        share_chart=share_chart(figures),
    )
