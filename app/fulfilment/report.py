"""One line of a completion report: per source and category, what was done and why.

Every right's job ends with a report (``app.fulfilment.complete``) whose
lines are built here, from the plan's lines: counts, labels, legal bases and
retention dates in both languages, never the data. A right adds what is its
own (the records not found of a package, the fields corrected of a
rectification) to the line this gives.
"""

from __future__ import annotations

from typing import Any

from app.models import PlanLine
from app.rules.routing import Line


def report_line(
    line: Line | PlanLine,
    *,
    count: int | None = None,
    not_found: int | None = None,
    explained: bool = False,
) -> dict[str, Any]:
    """The report's line for one plan line.

    ``count`` replaces the plan's count when the job counted what it did;
    ``not_found`` is added when given; ``explained`` adds the line's
    explanation (what the requester reads about a kept record).
    """
    if isinstance(line, PlanLine):
        line = Line.of(line)
    entry: dict[str, Any] = {
        "source": line.source,
        "category": line.category,
        "action": line.action,
        "count": line.record_count if count is None else count,
    }
    if not_found is not None:
        entry["not_found"] = not_found
    entry |= {
        "label_fr": line.label.fr,
        "label_en": line.label.en,
        "basis_fr": line.basis.fr,
        "basis_en": line.basis.en,
    }
    if explained:
        entry |= {"explanation_fr": line.explanation.fr, "explanation_en": line.explanation.en}
    entry["kept_until"] = line.kept_until.isoformat() if line.kept_until else None
    return entry
