"""The plan and report on the status page: a summary first, one card per category."""

from __future__ import annotations

from datetime import date

from bs4 import BeautifulSoup

from app.models import PlanLine
from app.public import plan_view
from tests.rules.test_routing import file_and_route, filing_for, persona


def _line(category: str, action: str, count: int, kept: date | None = None) -> PlanLine:
    return PlanLine(
        category=category,
        action=action,
        record_count=count,
        source="s",
        label_fr=category,
        label_en=category,
        basis_fr="b",
        basis_en="b",
        explanation_fr=f"why {action}",
        explanation_en=f"why {action}",
        kept_until=kept,
    )


def test_a_category_part_erased_part_kept_is_one_card_and_the_summary_adds_up():
    """Two lines of one category make one card; totals per action, the longest kept date."""
    lines = [
        _line("refunds", "erase", 2),
        _line("refunds", "retain", 3, date(2028, 11, 2)),
        _line("labs", "erase", 13),
        _line("research", "retain", 7, date(2046, 5, 15)),
    ]
    cards = plan_view.plan_cards(lines, "en")
    assert [c.category for c in cards] == ["refunds", "labs", "research"]
    assert [o.action for o in cards[0].outcomes] == ["erase", "retain"] and cards[0].count == 5
    summary = plan_view.summary(cards)
    assert summary.totals == (("erase", 15), ("retain", 10))
    assert summary.kept_longest == date(2046, 5, 15)


def test_the_status_page_says_the_summary_first_then_one_card_per_category(smtp_app, smtp):
    """Camille's erasure: a summary sentence, when it happens, cards without red, CNIL linked."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    page = BeautifulSoup(client.get("/status").data, "html.parser")
    summary = page.select_one(".plan-summary")
    assert summary is not None
    text = summary.get_text(" ", strip=True)
    assert "records will be erased." in text and "are kept, the longest until" in text
    assert "by " in text and "at the latest" in text
    titles = [h.get_text(strip=True) for h in page.select(".plan-card-title")]
    assert len(titles) == len(set(titles)) > 3  # one card per category
    first = page.select_one(".plan-card .outcome")
    assert first is not None
    # The plain reason before the legal basis, which is the quieter last line.
    children = [p["class"][0] for p in first.find_all("p")]
    assert children.index("outcome-why") < children.index("outcome-basis")


def test_an_access_plan_does_not_say_portability_is_excluded(smtp_app, smtp):
    """The access rules carry Art. 15 alone; the portability rules keep Art. 20's exclusion."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    file_and_route(smtp_app, smtp, client, filing_for(persona("Camille"), kind="access"))
    page = client.get("/status").get_data(as_text=True)
    assert "records will be in your copy" in page
    assert "not portable" not in page and "Art. 20" not in page
    # Her medical record is in the copy: the Public Health Code's 8 days, not one month.
    assert "gives us 8 days to answer" in page
    assert "one month to answer" not in page
