"""Migrations and models describe the same schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.extensions import db
from app.models import Base
from tests.conftest import ROOT


def test_head_revision_matches_the_models(app):
    """Upgrading an empty database to head gives exactly the schema the models declare."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations drifted: {differences}"


def test_the_database_is_at_the_single_head(app):
    """There is one head revision and the test database stands on it."""
    script = ScriptDirectory.from_config(_config())
    heads = script.get_heads()
    assert len(heads) == 1
    with app.app_context(), db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    assert current == heads[0]


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config
