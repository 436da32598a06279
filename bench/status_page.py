"""The requester's pages against a bare Flask GET, measured in the same run.

Builds a demo warehouse and a migrated database in a temporary folder (SQLite by
default, ``--database-url`` for a PostgreSQL schema of its own, dropped at the
end), files Camille's erasure through the public form, follows the emailed link,
lets the worker route it in-process, then times, interleaved after a warm-up:

* ``GET /status``: her status page with its plan (what the template reads is
  loaded up front, see ``app.public.routes.STATUS_PAGE``);
* ``GET /``: the public form;
* a bare Flask app answering ``GET /`` with a short rendered template, the
  baseline every figure is divided by.

Each goes through Flask's test client in this process: the figures are the
application's own cost per request (routing, session, queries, templates), with
no network or WSGI server in the way, so the ratio says how far the portal's
pages are from what Flask itself costs. It prints requests per second, the
median and 99th percentile latency, the ratio to the baseline and the SQL
statements one status view runs. A measurement, not a test: exit code 0 either way.

    .venv/bin/python bench/status_page.py [--requests 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import html
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from flask import Flask, render_template_string

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.deadlines import receipt_date  # noqa: E402
from app.demo.warehouse import PERSONAS, build  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import utcnow  # noqa: E402
from app.outbox import jobs, worker  # noqa: E402
from app.outbox.handlers import HANDLERS  # noqa: E402
from app.services import services_of  # noqa: E402

BASE = "https://portal.bench.invalid"


def portal(url: str, workdir: Path, warehouse: Path) -> Flask:
    return create_app(
        {
            "PORTAL_ENV": "test",
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "WAREHOUSE_URL": f"sqlite:///{warehouse}",
            "MAIL_DIR": str(workdir / "mail"),
            "MAIL_SERVER": None,
            "AUDIT_ANCHOR_FILE": str(workdir / "anchors.log"),
            "PORTAL_BASE_URL": BASE,
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
        }
    )


def bare() -> Flask:
    app = Flask("bare")
    page = "<!doctype html><title>{{ t }}</title><h1>{{ t }}</h1><p>{{ p }}</p>"

    @app.get("/")
    def index() -> str:
        return render_template_string(page, t="Bare", p="A bare Flask page.")

    return app


def run_jobs(app: Flask) -> None:
    with app.app_context():
        while worker.run_batch(
            db.session(),
            HANDLERS,
            services_of(app),
            worker="bench",
            clock=utcnow,
            lease_seconds=60,
            policy=jobs.RetryPolicy(max_attempts=3),
            rng=random.Random(0),
        ):
            pass
        db.session.remove()


def last_link(mail: Path) -> str:
    newest = max(mail.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    message = message_from_bytes(newest.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(re.escape(BASE) + r"(/\S+)", body.get_content())
    assert found, "no portal link in the email"
    return found.group(1)


def timed(call: Callable[[], int], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        code = call()
        samples.append(time.perf_counter() - started)
        assert code == 200, code
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--profile",
        choices=("status", "form"),
        help="instead of timing, cProfile this page's views and print the top functions",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-status-"))
    warehouse = workdir / "warehouse.sqlite3"
    build(warehouse, citizens=400, seed=7, as_of=receipt_date(utcnow()))
    schema = ""
    if args.database_url:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with sa.create_engine(args.database_url).begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in args.database_url else "?"
        url = f"{args.database_url}{sep}options={quote(f'-csearch_path={schema}')}"
    else:
        url = f"sqlite:///{workdir / 'portal.sqlite3'}"
    try:
        app = portal(url, workdir, warehouse)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
        camille = next(p for p in PERSONAS if p.first_name == "Camille")
        client = app.test_client()
        client.get("/?lang=en")
        filing = {
            "kind": "erasure",
            "first_name": camille.first_name,
            "last_name": camille.last_name,
            "birth_date-day": str(camille.birth_date.day),
            "birth_date-month": str(camille.birth_date.month),
            "birth_date-year": str(camille.birth_date.year),
            "email": camille.email or "",
            "nir": camille.nir or "",
            "details": "",
        }
        # Filing is two steps: the form shows the answers back, "Send" files them.
        checked = client.post("/", data=filing)
        answers = re.search(r'name="answers"[^>]*value="([^"]+)"', checked.get_data(as_text=True))
        assert checked.status_code == 200 and answers is not None
        sent = client.post("/request/send", data={"answers": html.unescape(answers.group(1))})
        assert sent.status_code == 303
        run_jobs(app)
        assert client.post(last_link(workdir / "mail")).status_code == 303
        run_jobs(app)
        status = client.get("/status")
        assert status.status_code == 200 and 'class="plan' in status.get_data(as_text=True)

        seen: list[str] = []
        with app.app_context():
            engine = db.engine

        def count(*event: object) -> None:
            statement = str(event[2])
            if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
                seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        client.get("/status")
        sa.event.remove(engine, "before_cursor_execute", count)

        baseline = bare().test_client()
        form = app.test_client()
        form.get("/?lang=en")
        calls = {
            "bare Flask GET /": lambda: baseline.get("/").status_code,
            "GET /status (plan shown)": lambda: client.get("/status").status_code,
            "GET / (the form)": lambda: form.get("/").status_code,
        }
        for call in calls.values():  # warm-up: templates compiled, caches filled
            timed(call, 50)
        if args.profile:
            import cProfile
            import pstats

            name = "GET /status (plan shown)" if args.profile == "status" else "GET / (the form)"
            profiler = cProfile.Profile()
            profiler.runcall(timed, calls[name], args.requests)
            stats = pstats.Stats(profiler).strip_dirs()
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
            return
        results = {name: [] for name in calls}  # type: dict[str, list[float]]
        rounds = 10
        for _ in range(rounds):  # interleaved, so a slow moment hits every figure alike
            for name, call in calls.items():
                results[name] += timed(call, max(1, args.requests // rounds))

        database = "PostgreSQL" if args.database_url else "SQLite"
        print(f"Requester pages, in-process test client, {database}, {args.requests} each")
        print(f"SQL statements per status view: {len(seen)}")
        base_rate = len(results["bare Flask GET /"]) / sum(results["bare Flask GET /"])
        print(f"{'page':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
        for name, samples in results.items():
            rate = len(samples) / sum(samples)
            ordered = sorted(samples)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(
                f"{name:28} {rate:8.0f} {statistics.median(samples) * 1000:8.2f} "
                f"{p99 * 1000:8.2f} {rate / base_rate:7.3f}"
            )
        print("targets (issue 19): status page >= 0.35 of the bare GET, the form >= 0.4")
    finally:
        if schema:
            with sa.create_engine(args.database_url).begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
