"""The health data rights portal: ``create_app`` builds everything, nothing runs at import."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from app import cli, errors, i18n, input_guard, ops, security_headers
from app.audit.keys import Keyring
from app.crypto import Vault
from app.extensions import babel, csrf, db, limiter, login_manager, migrate
from app.identity.policy import AssuranceError, AssurancePolicy, load_assurance
from app.name_search import NameIndex
from app.outbox.emails import MailSettings
from app.outbox.mailer import Mailer
from app.rules.catalogue import Catalogue, CatalogueError, load_catalogue
from app.rules.policy import Policy, PolicyError, load_policy
from app.rules.representation import Representation, RepresentationError, load_representation
from app.rules.sources import Warehouse
from app.services import EXTENSION, AuditSettings, Limits, Operator, Services
from app.tokens import LinkSigner
from config import INSTANCE, ROOT, ConfigError, load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal from environment variables, with ``config`` taking precedence."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE),
    )
    from app.public.document_views import PortalRequest

    # Room for the identity document upload, kept in memory (app/public/document_views.py).
    app.request_class = PortalRequest
    config = dict(config or {})
    environment = dict(os.environ)
    if "PORTAL_ENV" in config:
        environment["PORTAL_ENV"] = config["PORTAL_ENV"]
    settings = load_config(environment)
    settings.update(config)
    app.config.from_mapping(settings)
    register_extensions(app)
    register_services(app)
    register_blueprints(app)
    # First of the request hooks: the request id is on every line that follows.
    ops.init_app(app)
    errors.init_app(app)
    input_guard.init_app(app)
    security_headers.init_app(app)
    cli.init_app(app)
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)


def register_services(app: Flask) -> None:
    """The services the views and the worker share, built once from configuration."""
    base = app.config["PORTAL_BASE_URL"]
    domain = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    catalogue, policy = load_sources_and_rules(app.config)
    app.extensions[EXTENSION] = Services(
        catalogue=catalogue,
        policy=policy,
        warehouse=Warehouse(catalogue),
        vault=Vault(app.config["DATA_ENCRYPTION_KEYS"]),
        signer=LinkSigner(app.config["SECRET_KEY"], app.config.get("SECRET_KEY_FALLBACKS", ())),
        mail=MailSettings(
            verify_link_max_age=app.config["VERIFY_LINK_MAX_AGE"],
            status_link_max_age=app.config["STATUS_LINK_MAX_AGE"],
            download_link_max_age=app.config["DOWNLOAD_LINK_MAX_AGE"],
            domain=domain,
        ),
        limits=Limits(
            unverified_ttl=app.config["UNVERIFIED_TTL"],
            reminder_hour=app.config["REMINDER_HOUR"],
            reminder_days=app.config["REMINDER_DAYS"],
            download_link_max_age=app.config["DOWNLOAD_LINK_MAX_AGE"],
            download_check_attempts=app.config["DOWNLOAD_CHECK_ATTEMPTS"],
            contact_email=str(app.config.get("CONTACT_EMAIL", "")),
        ),
        postman=Mailer(app),
        audit=AuditSettings(
            keyring=Keyring.of(app.config["AUDIT_KEYS"]),
            anchor_file=Path(app.config["AUDIT_ANCHOR_FILE"]),
        ),
        assurance=load_assurance_policy(app.config),
        names=NameIndex.of(app.config["NAME_SEARCH_KEYS"]),
        representation=load_representation_rules(app.config, catalogue, policy),
        operator=Operator.of(app.config),
    )


def load_sources_and_rules(config: Mapping[str, Any]) -> tuple[Catalogue, Policy]:
    """Read the catalogue and the policy; the portal does not start if either is wrong.

    The live databases are checked by ``check_sources`` where the portal
    serves or works (gunicorn, the worker, ``flask rules check``), so that
    administrative commands still run while a source is down.
    """
    variables = dict(os.environ)
    if config.get("WAREHOUSE_URL"):
        variables["WAREHOUSE_URL"] = config["WAREHOUSE_URL"]
    try:
        catalogue = load_catalogue(Path(config["SOURCES_FILE"]), variables)
        policy = load_policy(
            Path(config["RULES_FILE"]), catalogue.categories, catalogue.medical_categories
        )
    except (CatalogueError, PolicyError) as error:
        raise ConfigError(
            "The portal cannot start: the catalogue or the policy is wrong.\n"
            + "\n".join(f"  - {p}" for p in error.problems)
            + "\nRun `flask rules check` after fixing it."
        ) from None
    return catalogue, policy


def load_representation_rules(
    config: Mapping[str, Any], catalogue: Catalogue, policy: Policy
) -> Representation:
    """Read who may act for someone else; the portal does not start if it is wrong."""
    try:
        return load_representation(Path(config["REPRESENTATION_FILE"]), catalogue, policy)
    except RepresentationError as error:
        raise ConfigError(
            "The portal cannot start: the representation rules are wrong.\n"
            + "\n".join(f"  - {p}" for p in error.problems)
            + "\nRun `flask rules check` after fixing it."
        ) from None


def load_assurance_policy(config: Mapping[str, Any]) -> AssurancePolicy:
    """Read what each identity level allows; the portal does not start if it is wrong."""
    try:
        return load_assurance(Path(config["ASSURANCE_FILE"]))
    except AssuranceError as error:
        raise ConfigError(
            "The portal cannot start: the assurance policy is wrong.\n"
            + "\n".join(f"  - {p}" for p in error.problems)
            + "\nRun `flask rules check` after fixing it."
        ) from None


def register_blueprints(app: Flask) -> None:
    from app.public import bp as public_bp
    from app.public import oidc_client

    oidc_client.init_app(app)
    from app.staff import bp as staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp)
    if app.config["DEMO"]:
        from app.demo import bp as demo_bp

        app.register_blueprint(demo_bp)
    if app.config["DEMO"] and app.config.get("OIDC_DEMO_PROVIDER"):
        from app.demo.identity_views import bp as demo_identity_bp

        app.register_blueprint(demo_identity_bp)


def _tune_sqlite(engine: Any) -> None:
    """Make SQLite safe for a web process and a worker writing at once.

    ``BEGIN IMMEDIATE`` takes the write lock at the start of a transaction, so
    two processes never both read a stale value and then collide on write.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
