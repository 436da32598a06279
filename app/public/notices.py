"""The portal's own notices: how it processes requesters' data, and who publishes it.

The privacy notice (GDPR Art. 13) covers what the portal itself does with the
data of the people who use it, not the warehouse's health data (each access
package carries that, category by category). The legal notice names the
publisher, the publication director and the host (LCEN art. 6, III). Both
read the operator's settings (``CONTROLLER_NAME`` ...), so an operator never
edits a template to name itself.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, render_template

from app.public.routes import bp
from app.services import services_of

# Moved forward whenever either notice is reviewed.
NOTICES_DATE = date(2026, 12, 3)


@bp.get("/privacy")
def privacy() -> str:
    config = current_app.config
    return render_template(
        "public/privacy.html",
        operator=services_of(current_app).operator,
        retention_years=round(config["PURGE_CLOSED_AFTER_DAYS"] / 365),
        unconfirmed_days=max(1, config["UNVERIFIED_TTL"] // 86400),
        download_hours=config["DOWNLOAD_LINK_MAX_AGE"] // 3600,
        reviewed=NOTICES_DATE,
    )


@bp.get("/legal")
def legal() -> str:
    return render_template(
        "public/legal.html", operator=services_of(current_app).operator, reviewed=NOTICES_DATE
    )
