"""The ``portal`` console script: the ``flask`` command with the portal's app preset.

``portal worker`` is ``flask --app wsgi worker``, from any folder, in a checkout
or an installed wheel alike.
"""

from __future__ import annotations

from flask.cli import FlaskGroup


def main() -> None:
    from app import create_app

    FlaskGroup(create_app=lambda: create_app(), help="The health data rights portal.")(
        prog_name="portal"
    )
