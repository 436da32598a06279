"""Settings of the portal, read from environment variables.

Three shapes share one code path: ``production`` (the default, strict: it
refuses to start on a missing or weak setting), ``demo`` (a laptop with no
server: SQLite, mail written to files, secrets generated once and kept in
``instance/``) and ``test``. Every difference between them is here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from werkzeug.sansio.utils import host_is_trusted


def _files_root() -> Path:
    """Where the templates, migrations, translations and catalogue are.

    In a checkout, beside this file; in an installed wheel, in the copy that
    ``setup.py`` puts inside the package (``app/_bundle``).
    """
    here = Path(__file__).resolve().parent
    bundled = here / "app" / "_bundle"
    return bundled if bundled.is_dir() else here


ROOT = _files_root()
# Demo secrets and local defaults (SQLite, mail files, anchors); an installed
# portal keeps them in PORTAL_INSTANCE, or ./instance, never inside the package.
INSTANCE = Path(
    os.environ.get("PORTAL_INSTANCE", "").strip()
    or (Path.cwd() / "instance" if ROOT.name == "_bundle" else ROOT / "instance")
)
ENVIRONMENTS = ("production", "demo", "test")
MIN_SECRET_LENGTH = 32
LOG_FORMATS = ("json", "text", "off")


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names every problem at once."""


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    """Read a boolean strictly, so that ``"false"`` never means true."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false.")


def parse_int(name: str, raw: str | None, default: int) -> int:
    """Read a positive integer, naming the setting when it is not one."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative.")
    return value


def _instance_secret(name: str, make: Any) -> str:
    """Generate a demo secret once and keep it in ``instance/`` across restarts."""
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask configuration from an environment mapping (``os.environ``)."""
    env = os.environ if env is None else env
    shape = env.get("PORTAL_ENV", "production").strip().lower()
    if shape not in ENVIRONMENTS:
        raise ConfigError(f"PORTAL_ENV={shape!r}: choose one of {', '.join(ENVIRONMENTS)}.")
    strict = shape == "production"
    problems: list[str] = []

    secret_key = env.get("SECRET_KEY", "")
    if not secret_key and shape == "demo":
        secret_key = _instance_secret("secret_key", lambda: secrets.token_urlsafe(48))
    if not secret_key and shape == "test":
        secret_key = "test-only-secret-key-" + "x" * 32
    if len(secret_key) < MIN_SECRET_LENGTH:
        problems.append(
            f"SECRET_KEY must be set to at least {MIN_SECRET_LENGTH} random characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )

    keys_raw = env.get("DATA_ENCRYPTION_KEYS", "")
    if not keys_raw and shape == "demo":
        keys_raw = _instance_secret("data_key", lambda: Fernet.generate_key().decode())
    if not keys_raw and shape == "test":
        keys_raw = Fernet.generate_key().decode()
    keys = [k.strip() for k in keys_raw.split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            problems.append("DATA_ENCRYPTION_KEYS holds a value that is not a Fernet key.")
            break
    if not keys:
        problems.append(
            "DATA_ENCRYPTION_KEYS must list at least one Fernet key, newest first "
            '(python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())").'
        )

    # The audit chain's HMAC keys, newest first; held outside the database so that
    # whoever can write to it cannot recompute the chain (app/audit/keys.py).
    audit_raw = env.get("AUDIT_KEYS", "")
    if not audit_raw and shape == "demo":
        audit_raw = _instance_secret("audit_key", lambda: secrets.token_urlsafe(32))
    if not audit_raw and shape == "test":
        audit_raw = "test-only-audit-key-" + "x" * 32
    audit_keys = [k.strip() for k in audit_raw.split(",") if k.strip()]
    if any(len(key) < MIN_SECRET_LENGTH for key in audit_keys):
        problems.append(f"AUDIT_KEYS holds a key shorter than {MIN_SECRET_LENGTH} characters.")
    elif audit_keys and secret_key in audit_keys:
        problems.append("AUDIT_KEYS must not reuse SECRET_KEY: each secret has one use.")
    if not audit_keys:
        problems.append(
            f"AUDIT_KEYS must list at least one key of {MIN_SECRET_LENGTH} random characters "
            "or more, newest first, kept outside the database "
            '(python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )

    # The keys of the requester-name digests the queue searches (app/name_search.py),
    # newest first: the first writes, every one is searched until `flask keys rotate`
    # has rewritten the digests under the first.
    names_raw = env.get("NAME_SEARCH_KEYS", "")
    if not names_raw and shape == "demo":
        names_raw = _instance_secret("name_search_key", lambda: secrets.token_urlsafe(32))
    if not names_raw and shape == "test":
        names_raw = "test-only-name-search-key-" + "x" * 32
    name_keys = [k.strip() for k in names_raw.split(",") if k.strip()]
    if any(len(key) < MIN_SECRET_LENGTH for key in name_keys):
        problems.append(
            f"NAME_SEARCH_KEYS holds a key shorter than {MIN_SECRET_LENGTH} characters."
        )
    elif set(name_keys) & ({secret_key} | set(audit_keys)):
        problems.append(
            "NAME_SEARCH_KEYS must not reuse SECRET_KEY or AUDIT_KEYS: each secret has one use."
        )
    if not name_keys:
        problems.append(
            f"NAME_SEARCH_KEYS must list at least one key of {MIN_SECRET_LENGTH} random "
            "characters or more, newest first, kept outside the database "
            '(python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )

    base_url = env.get("PORTAL_BASE_URL", "").strip().rstrip("/")
    if not base_url:
        if strict:
            problems.append("PORTAL_BASE_URL must be set: every emailed link is built from it.")
        base_url = "http://127.0.0.1:5000"
    elif not base_url.startswith(("https://", "http://")):
        problems.append("PORTAL_BASE_URL must start with https:// (or http:// on a laptop).")
    elif strict and not base_url.startswith("https://"):
        problems.append("PORTAL_BASE_URL must use https:// in production.")

    debug = parse_bool("FLASK_DEBUG", env.get("FLASK_DEBUG"), False)
    if strict and debug:
        problems.append("FLASK_DEBUG must be off in production.")

    mail_server = env.get("MAIL_SERVER", "").strip() or None
    if strict and not mail_server:
        problems.append("MAIL_SERVER must be set in production (mail to files is for the demo).")

    contact = env.get("CONTACT_EMAIL", "").strip()
    if not contact:
        if strict:
            problems.append(
                "CONTACT_EMAIL must be set: the data protection officer's address, shown to "
                "requesters (GDPR Art. 37(7))."
            )
        contact = "dpo@example.org"

    operator = operator_settings(env, shape, problems)

    database_url = env.get("DATABASE_URL", "").strip() or (
        f"sqlite:///{INSTANCE / 'portal.sqlite3'}"
    )
    secure = strict or parse_bool("SESSION_COOKIE_SECURE", env.get("SESSION_COOKIE_SECURE"), False)
    trusted = [h.strip() for h in env.get("TRUSTED_HOSTS", "").split(",") if h.strip()]
    base_host = urlsplit(base_url).netloc
    if trusted and base_host and not host_is_trusted(base_host, trusted):
        # Emails are rendered for the base URL's host: refused by the trusted-host
        # check, every email job would fail and retry for ever.
        problems.append(
            f"TRUSTED_HOSTS ({', '.join(trusted)}) must list the host of PORTAL_BASE_URL "
            f"({base_host}): every emailed link is built for that host."
        )

    try:
        numbers = {
            "VERIFY_LINK_MAX_AGE": parse_int(
                "VERIFY_LINK_MAX_AGE", env.get("VERIFY_LINK_MAX_AGE"), 24 * 3600
            ),
            "STATUS_LINK_MAX_AGE": parse_int(
                "STATUS_LINK_MAX_AGE", env.get("STATUS_LINK_MAX_AGE"), 400 * 24 * 3600
            ),
            # What the status link opens lasts this long without use (app.public.status_session).
            "STATUS_SESSION_IDLE": parse_int(
                "STATUS_SESSION_IDLE", env.get("STATUS_SESSION_IDLE"), 30 * 60
            ),
            # A download link lives 72 hours at most (docs/security.md, "Requester links
            # and tokens").
            "DOWNLOAD_LINK_MAX_AGE": parse_int(
                "DOWNLOAD_LINK_MAX_AGE", env.get("DOWNLOAD_LINK_MAX_AGE"), 72 * 3600
            ),
            "DOWNLOAD_CHECK_ATTEMPTS": parse_int(
                "DOWNLOAD_CHECK_ATTEMPTS", env.get("DOWNLOAD_CHECK_ATTEMPTS"), 5
            ),
            # Personal data of requests closed this long ago is purged (docs/legal.md,
            # "Retention": 5 years).
            "PURGE_CLOSED_AFTER_DAYS": parse_int(
                "PURGE_CLOSED_AFTER_DAYS", env.get("PURGE_CLOSED_AFTER_DAYS"), 5 * 365 + 1
            ),
            "UNVERIFIED_TTL": parse_int(
                "UNVERIFIED_TTL", env.get("UNVERIFIED_TTL"), 7 * 24 * 3600
            ),
            "FILINGS_PER_ADDRESS_PER_HOUR": parse_int(
                "FILINGS_PER_ADDRESS_PER_HOUR", env.get("FILINGS_PER_ADDRESS_PER_HOUR"), 5
            ),
            "JOB_MAX_ATTEMPTS": parse_int("JOB_MAX_ATTEMPTS", env.get("JOB_MAX_ATTEMPTS"), 8),
            "JOB_LEASE_SECONDS": parse_int("JOB_LEASE_SECONDS", env.get("JOB_LEASE_SECONDS"), 300),
            "JOB_BACKOFF_SECONDS": parse_int(
                "JOB_BACKOFF_SECONDS", env.get("JOB_BACKOFF_SECONDS"), 30
            ),
            "JOB_BACKOFF_MAX_SECONDS": parse_int(
                "JOB_BACKOFF_MAX_SECONDS", env.get("JOB_BACKOFF_MAX_SECONDS"), 6 * 3600
            ),
            # How long a job failing for a transient reason (mail server down, 4xx) is
            # tried again before it is parked: three days, as mail servers do.
            "JOB_TRANSIENT_RETRY_SECONDS": parse_int(
                "JOB_TRANSIENT_RETRY_SECONDS",
                env.get("JOB_TRANSIENT_RETRY_SECONDS"),
                3 * 24 * 3600,
            ),
            "WORKER_POLL_SECONDS": parse_int(
                "WORKER_POLL_SECONDS", env.get("WORKER_POLL_SECONDS"), 2
            ),
            # Expiry, reminders, package expiry and audit sealing run this often
            # (app.outbox.housekeeping), not before every batch of jobs.
            "WORKER_HOUSEKEEPING_SECONDS": parse_int(
                "WORKER_HOUSEKEEPING_SECONDS", env.get("WORKER_HOUSEKEEPING_SECONDS"), 10
            ),
            "PROXY_COUNT": parse_int("PROXY_COUNT", env.get("PROXY_COUNT"), 0),
            "MAIL_PORT": parse_int("MAIL_PORT", env.get("MAIL_PORT"), 25),
            "MAX_CONTENT_LENGTH": parse_int(
                "MAX_CONTENT_LENGTH", env.get("MAX_CONTENT_LENGTH"), 256 * 1024
            ),
            # The one upload (app/public/document_views.py) may send this much, and no more.
            "IDENTITY_DOCUMENT_MAX_BYTES": parse_int(
                "IDENTITY_DOCUMENT_MAX_BYTES",
                env.get("IDENTITY_DOCUMENT_MAX_BYTES"),
                5 * 1024 * 1024,
            ),
            # The staff reminders: queued once a day from this hour (Europe/Paris),
            # listing cases overdue or due within this many days.
            "REMINDER_HOUR": parse_int("REMINDER_HOUR", env.get("REMINDER_HOUR"), 7),
            "REMINDER_DAYS": parse_int("REMINDER_DAYS", env.get("REMINDER_DAYS"), 5),
            # /readyz fails when no worker has been seen for this long (app/ops).
            "WORKER_STALE_SECONDS": parse_int(
                "WORKER_STALE_SECONDS", env.get("WORKER_STALE_SECONDS"), 120
            ),
        }
        if numbers["REMINDER_HOUR"] > 23:
            raise ConfigError(
                f"REMINDER_HOUR={env.get('REMINDER_HOUR')!r} must be an hour from 0 to 23 "
                "(Europe/Paris time)."
            )
        if not 0 < numbers["DOWNLOAD_LINK_MAX_AGE"] <= 72 * 3600:
            raise ConfigError(
                f"DOWNLOAD_LINK_MAX_AGE={env.get('DOWNLOAD_LINK_MAX_AGE')!r} must be between 1 "
                "and 259200 seconds: a download link lives 72 hours at most (docs/security.md)."
            )
        if not 60 <= numbers["STATUS_SESSION_IDLE"] <= 4 * 3600:
            raise ConfigError(
                f"STATUS_SESSION_IDLE={env.get('STATUS_SESSION_IDLE')!r} must be between 60 and "
                "14400 seconds: the status page closes after that long without use "
                "(docs/security.md)."
            )
        if numbers["DOWNLOAD_CHECK_ATTEMPTS"] < 1:
            raise ConfigError("DOWNLOAD_CHECK_ATTEMPTS must be at least 1.")
        flags = {
            "MAIL_USE_TLS": parse_bool("MAIL_USE_TLS", env.get("MAIL_USE_TLS"), False),
            "MAIL_USE_SSL": parse_bool("MAIL_USE_SSL", env.get("MAIL_USE_SSL"), False),
            "RATELIMIT_ENABLED": parse_bool(
                "RATELIMIT_ENABLED", env.get("RATELIMIT_ENABLED"), True
            ),
            # Redis down: each process counts in its own memory until Redis is back,
            # so limits loosen (per process) instead of failing every filing with a 500.
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": parse_bool(
                "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED",
                env.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"),
                True,
            ),
            "DATABASE_PRE_PING": parse_bool(
                "DATABASE_PRE_PING", env.get("DATABASE_PRE_PING"), True
            ),
        }
    except ConfigError as error:
        problems.append(str(error))
        numbers, flags = {}, {}

    storage = env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://"
    if strict and flags.get("RATELIMIT_ENABLED", True) and storage.startswith("memory://"):
        problems.append(
            "RATELIMIT_STORAGE_URI must point at Redis in production (redis://host:6379): "
            "limits kept in each process's memory do not hold across workers."
        )

    # Old secrets still accepted for a transition period (sessions, links), newest first.
    fallbacks = [k.strip() for k in env.get("SECRET_KEY_FALLBACKS", "").split(",") if k.strip()]
    if any(len(key) < MIN_SECRET_LENGTH for key in fallbacks):
        problems.append(
            f"SECRET_KEY_FALLBACKS holds a key shorter than {MIN_SECRET_LENGTH} characters."
        )
    log_format = env.get("LOG_FORMAT", "").strip().lower() or (
        "json" if strict else "off" if shape == "test" else "text"
    )
    if log_format not in LOG_FORMATS:
        problems.append(f"LOG_FORMAT={log_format!r}: choose one of {', '.join(LOG_FORMATS)}.")
    metrics_token = env.get("METRICS_TOKEN", "").strip()
    if metrics_token and len(metrics_token) < MIN_SECRET_LENGTH:
        problems.append(f"METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters.")

    oidc = oidc_settings(env, shape, base_url, problems)

    if problems:
        raise ConfigError("The portal cannot start:\n" + "\n".join(f"  - {p}" for p in problems))

    cookie_name = "__Host-portal" if secure else "portal_session"
    return {
        "PORTAL_ENV": shape,
        "DEMO": shape == "demo",
        "TESTING": shape == "test",
        "DEBUG": debug,
        "SECRET_KEY": secret_key,
        # Flask signs sessions with SECRET_KEY and still reads these (Flask 3.1).
        "SECRET_KEY_FALLBACKS": fallbacks,
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": (env.get("LOG_LEVEL", "").strip() or "INFO").upper(),
        # Bearer token that opens /metrics; unset, /metrics answers 404.
        "METRICS_TOKEN": metrics_token or None,
        "DATA_ENCRYPTION_KEYS": keys,
        "AUDIT_KEYS": audit_keys,
        "NAME_SEARCH_KEYS": name_keys,
        # Append-only; in production, on a disk that is not the database's (README).
        "AUDIT_ANCHOR_FILE": env.get("AUDIT_ANCHOR_FILE") or str(INSTANCE / "audit-anchors.log"),
        "PORTAL_BASE_URL": base_url,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Pre-ping: a connection left dead by a database restart or failover is
        # replaced before use, instead of failing the next request of every
        # process with a 500 (bench/soak.py found one per gunicorn worker). It
        # costs one round trip at each checkout (docs/deploy.md, "Sizing").
        # hide_parameters: an error message must never quote a name or an address.
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_recycle": 1800,
            "pool_pre_ping": flags.get("DATABASE_PRE_PING", True),
            "hide_parameters": True,
        },
        "SOURCES_FILE": env.get("SOURCES_FILE") or str(ROOT / "catalogue" / "sources.toml"),
        "RULES_FILE": env.get("RULES_FILE") or str(ROOT / "catalogue" / "rules.toml"),
        "ASSURANCE_FILE": env.get("ASSURANCE_FILE") or str(ROOT / "catalogue" / "assurance.toml"),
        "REPRESENTATION_FILE": env.get("REPRESENTATION_FILE")
        or str(ROOT / "catalogue" / "representation.toml"),
        # The demo catalogue reads ${WAREHOUSE_URL}; a real catalogue names its own variables.
        "WAREHOUSE_URL": env.get("WAREHOUSE_URL")
        or ("" if strict else f"sqlite:///{INSTANCE / 'warehouse.sqlite3'}"),
        "MAIL_SERVER": mail_server,
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER")
        or "Portail des droits <ne-pas-repondre@localhost>",
        "CONTACT_EMAIL": contact,
        **operator,
        "MAIL_DIR": env.get("MAIL_DIR") or str(INSTANCE / "mail"),
        "TRUSTED_HOSTS": trusted or None,
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_FILING": env.get("RATELIMIT_FILING") or "20 per hour",
        "RATELIMIT_DOCUMENT": env.get("RATELIMIT_DOCUMENT") or "10 per hour",
        # Per client address; the second factor and argon2 do the rest.
        "RATELIMIT_STAFF_LOGIN": env.get("RATELIMIT_STAFF_LOGIN") or "10 per minute",
        "RATELIMIT_HEADERS_ENABLED": False,
        "SESSION_COOKIE_NAME": cookie_name,
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "HSTS": strict,
        "WTF_CSRF_TIME_LIMIT": 3600 * 4,
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        **oidc,
        **numbers,
        **flags,
    }


# Who runs the portal, shown on every package, the privacy notice and the legal
# notice: the demo and the tests show a fictitious operator.
OPERATOR_SETTINGS = {
    "CONTROLLER_NAME": (
        "the controller's name (the organisation that holds the health data and runs "
        "this portal), shown on every access package and on the legal notice"
    ),
    "CONTROLLER_ADDRESS": "the controller's postal address, shown with its name",
    "PUBLICATION_DIRECTOR": (
        "the publication director named on the legal notice (LCEN art. 6, III)"
    ),
    "HOSTING_PROVIDER": (
        "the hosting provider's name, address and telephone number, for the legal notice "
        "(LCEN art. 6, III)"
    ),
}
DEMO_OPERATOR = {
    "CONTROLLER_NAME": "Centre hospitalier universitaire de Démo",
    "CONTROLLER_ADDRESS": "12 rue de l'Exemple, 69003 Lyon, France",
    "DPO_ADDRESS": "Délégué à la protection des données, 12 rue de l'Exemple, 69003 Lyon",
    "PUBLICATION_DIRECTOR": "Claire Martin, directrice générale (personne fictive)",
    "HOSTING_PROVIDER": (
        "Hébergeur de démonstration (certifié HDS), 1 avenue de l'Exemple, 75012 Paris, "
        "01 23 45 67 89"
    ),
}
DEMO_SENDER_NAME = "CHU de Démo – Portail des droits"


def operator_settings(env: Mapping[str, str], shape: str, problems: list[str]) -> dict[str, str]:
    """The operator's identity: required in production, a fictitious one in the demo and tests.

    ``MAIL_SENDER_NAME``, when set, is the name in the From header of every
    email (the address stays that of ``MAIL_DEFAULT_SENDER``).
    """
    values = {}
    for name in (*OPERATOR_SETTINGS, "DPO_ADDRESS"):
        value = " ".join(env.get(name, "").split())
        if not value and shape != "production":
            value = DEMO_OPERATOR[name]
        if not value and name in OPERATOR_SETTINGS:
            problems.append(f"{name} must be set: {OPERATOR_SETTINGS[name]}.")
        values[name] = value
    sender = " ".join(env.get("MAIL_SENDER_NAME", "").split())
    if not sender and shape == "demo":
        sender = DEMO_SENDER_NAME
    if any(c in sender for c in '<>"@'):
        problems.append(
            'MAIL_SENDER_NAME must be a plain name (no <, >, " or @): the address comes '
            "from MAIL_DEFAULT_SENDER."
        )
    values["MAIL_SENDER_NAME"] = sender
    return values


# What FranceConnect releases for identity: the birth name, every first name,
# the birth date, and what the social-security number also encodes.
OIDC_DEFAULT_SCOPES = "openid given_name family_name birthdate gender birthplace birthcountry"
# The demo identity provider lives on the demo server itself (app/demo/identity_provider.py).
DEMO_OIDC_PATH = "/demo/identity"
DEMO_OIDC_CLIENT_ID = "portal-demo"


def oidc_settings(
    env: Mapping[str, str], shape: str, base_url: str, problems: list[str]
) -> dict[str, Any]:
    """Sign-in with an OpenID Connect provider (FranceConnect): off unless configured.

    ``OIDC_ISSUER`` (discovery at ``/.well-known/openid-configuration`` under
    it) or ``OIDC_DISCOVERY_URL``, with ``OIDC_CLIENT_ID`` and
    ``OIDC_CLIENT_SECRET``. In the demo, with none of them set, the demo
    identity provider of the same server is used.
    """
    issuer = env.get("OIDC_ISSUER", "").strip().rstrip("/")
    discovery = env.get("OIDC_DISCOVERY_URL", "").strip()
    client_id = env.get("OIDC_CLIENT_ID", "").strip()
    secret = env.get("OIDC_CLIENT_SECRET", "").strip()
    demo_provider = False
    if shape == "demo" and not (issuer or discovery):
        issuer = base_url + DEMO_OIDC_PATH
        client_id = client_id or DEMO_OIDC_CLIENT_ID
        secret = secret or _instance_secret("oidc_demo_secret", lambda: secrets.token_urlsafe(32))
        demo_provider = True
    if issuer and not discovery:
        discovery = issuer + "/.well-known/openid-configuration"
    enabled = bool(discovery or client_id or secret)
    if enabled:
        missing = [
            name
            for name, value in (
                ("OIDC_ISSUER (or OIDC_DISCOVERY_URL)", discovery),
                ("OIDC_CLIENT_ID", client_id),
                ("OIDC_CLIENT_SECRET", secret),
            )
            if not value
        ]
        if missing:
            problems.append(
                "OpenID Connect is half configured: set "
                + ", ".join(missing)
                + " too, or none of the OIDC_ settings to leave it off."
            )
        elif shape == "production" and not discovery.startswith("https://"):
            problems.append("OIDC_ISSUER / OIDC_DISCOVERY_URL must use https:// in production.")
    method = env.get("OIDC_TOKEN_AUTH_METHOD", "").strip() or "client_secret_post"
    if method not in ("client_secret_post", "client_secret_basic"):
        problems.append(
            f"OIDC_TOKEN_AUTH_METHOD={method!r}: use client_secret_post (FranceConnect) "
            "or client_secret_basic."
        )
    scopes = env.get("OIDC_SCOPES", "").strip() or OIDC_DEFAULT_SCOPES
    if enabled and "openid" not in scopes.split():
        problems.append("OIDC_SCOPES must include openid.")
    try:
        timeout = parse_int("OIDC_TIMEOUT", env.get("OIDC_TIMEOUT"), 10)
    except ConfigError as error:
        problems.append(str(error))
        timeout = 10
    return {
        "OIDC_ENABLED": enabled,
        "OIDC_DEMO_PROVIDER": demo_provider,
        "OIDC_ISSUER": issuer,
        "OIDC_DISCOVERY_URL": discovery,
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": secret,
        "OIDC_SCOPES": scopes,
        # e.g. eidas1 for FranceConnect, eidas2 for FranceConnect+; empty: none asked.
        "OIDC_ACR_VALUES": env.get("OIDC_ACR_VALUES", "").strip(),
        "OIDC_PROVIDER_NAME": env.get("OIDC_PROVIDER_NAME", "").strip() or "FranceConnect",
        "OIDC_TOKEN_AUTH_METHOD": method,
        # Seconds for each call to the provider (discovery, token, keys, userinfo).
        "OIDC_TIMEOUT": max(1, timeout),
    }
