"""The ``flask`` commands: this package only parses arguments and calls the domain.

One module per group: ``worker`` (``flask worker``, ``flask jobs``), ``audit``,
``rules`` (``flask rules``, ``flask plan``), ``staff``, ``purge``, ``research``, ``keys``;
the demo's own commands live in ``app.demo``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.cli.audit import audit_group
    from app.cli.keys import keys_group
    from app.cli.purge import purge_command
    from app.cli.research import research_extract_command
    from app.cli.rules import plan_group, rules_group
    from app.cli.staff import staff_group
    from app.cli.worker import jobs_group, worker_command
    from app.demo.cli import demo_data_command
    from app.demo.requests import demo_requests_command
    from app.demo.server import demo_serve_command

    app.cli.add_command(demo_data_command)
    app.cli.add_command(demo_requests_command)
    app.cli.add_command(demo_serve_command)
    app.cli.add_command(rules_group)
    app.cli.add_command(plan_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(staff_group)
    app.cli.add_command(research_extract_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(keys_group)
