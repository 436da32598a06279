"""Configuration: production refuses to start on a missing or weak setting, and says which."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from config import ConfigError, load_config, parse_bool

GOOD_PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "s" * 48,
    "AUDIT_KEYS": "a" * 43,
    "NAME_SEARCH_KEYS": "n" * 43,
    "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "PORTAL_BASE_URL": "https://droits.example.fr",
    "MAIL_SERVER": "smtp.example.fr",
    "CONTACT_EMAIL": "dpo@example.fr",
    "CONTROLLER_NAME": "Hôpital Exemple",
    "CONTROLLER_ADDRESS": "1 rue Exemple, 75001 Paris",
    "PUBLICATION_DIRECTOR": "Jeanne Exemple",
    "HOSTING_PROVIDER": "Hébergeur Exemple, 2 rue Exemple, 75002 Paris, 01 00 00 00 00",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgresql+psycopg://portal@db/portal",
}


def test_a_complete_production_configuration_loads():
    """Every required production setting present: the portal starts, secure cookies on."""
    config = load_config(GOOD_PRODUCTION)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert config["HSTS"] is True
    assert config["PORTAL_BASE_URL"] == "https://droits.example.fr"
    # What a status link opens ends after 30 minutes without use.
    assert config["STATUS_SESSION_IDLE"] == 1800


def test_production_names_every_missing_setting_at_once():
    """An empty production environment fails with one error naming each missing setting."""
    with pytest.raises(ConfigError) as error:
        load_config({"PORTAL_ENV": "production"})
    message = str(error.value)
    for name in (
        "SECRET_KEY",
        "DATA_ENCRYPTION_KEYS",
        "AUDIT_KEYS",
        "NAME_SEARCH_KEYS",
        "PORTAL_BASE_URL",
        "MAIL_SERVER",
        "CONTACT_EMAIL",
        "CONTROLLER_NAME",
        "CONTROLLER_ADDRESS",
        "PUBLICATION_DIRECTOR",
        "HOSTING_PROVIDER",
    ):
        assert name in message


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("SECRET_KEY", "short", "SECRET_KEY"),
        ("DATA_ENCRYPTION_KEYS", "not-a-key", "DATA_ENCRYPTION_KEYS"),
        ("AUDIT_KEYS", "short", "AUDIT_KEYS holds a key shorter than 32"),
        ("AUDIT_KEYS", "a" * 43 + ",short", "AUDIT_KEYS holds a key shorter than 32"),
        ("AUDIT_KEYS", " , ", "AUDIT_KEYS must list at least one key"),
        ("AUDIT_KEYS", "s" * 48, "AUDIT_KEYS must not reuse SECRET_KEY"),
        ("NAME_SEARCH_KEYS", "short", "NAME_SEARCH_KEYS holds a key shorter than 32"),
        ("NAME_SEARCH_KEYS", "a" * 43, "NAME_SEARCH_KEYS must not reuse"),
        ("NAME_SEARCH_KEYS", " , ", "NAME_SEARCH_KEYS must list at least one key"),
        ("PORTAL_BASE_URL", "http://droits.example.fr", "https://"),
        ("PORTAL_BASE_URL", "droits.example.fr", "PORTAL_BASE_URL"),
        ("FLASK_DEBUG", "true", "FLASK_DEBUG"),
        ("FLASK_DEBUG", "maybe", "FLASK_DEBUG"),
        ("JOB_MAX_ATTEMPTS", "many", "JOB_MAX_ATTEMPTS"),
        ("MAIL_PORT", "-1", "MAIL_PORT"),
        ("PORTAL_ENV", "staging", "PORTAL_ENV"),
        ("RATELIMIT_STORAGE_URI", "memory://", "Redis"),
        ("STATUS_SESSION_IDLE", "0", "STATUS_SESSION_IDLE"),
        ("STATUS_SESSION_IDLE", "86400", "STATUS_SESSION_IDLE"),
        ("TRUSTED_HOSTS", "portal.example.org", r"TRUSTED_HOSTS .*PORTAL_BASE_URL"),
        ("CONTROLLER_NAME", "  ", "CONTROLLER_NAME must be set"),
        ("MAIL_SENDER_NAME", "Hôpital <x@example.fr>", "MAIL_SENDER_NAME must be a plain name"),
    ],
)
def test_a_bad_production_setting_is_named(key, value, named):
    """Each wrong value stops the start with a message that names the setting."""
    with pytest.raises(ConfigError, match=named):
        load_config({**GOOD_PRODUCTION, key: value})


@pytest.mark.parametrize("trusted", ["droits.example.fr", "www.example.fr, .example.fr"])
def test_trusted_hosts_that_hold_the_base_url_host_load(trusted):
    """TRUSTED_HOSTS naming the emailed links' host, itself or as a subdomain, is accepted."""
    config = load_config({**GOOD_PRODUCTION, "TRUSTED_HOSTS": trusted})
    assert (
        "droits.example.fr" in config["TRUSTED_HOSTS"] or ".example.fr" in config["TRUSTED_HOSTS"]
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("true", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("", True),
        (None, True),
    ],
)
def test_booleans_are_parsed_strictly(raw, expected):
    """'false' is false, empty falls back to the default, anything else is an error."""
    assert parse_bool("X", raw, True) is expected


def test_audit_keys_are_read_newest_first_and_the_anchor_file_is_set():
    """AUDIT_KEYS is a comma-separated list, the first key signs; AUDIT_ANCHOR_FILE is a path."""
    config = load_config(
        {**GOOD_PRODUCTION, "AUDIT_KEYS": f"{'n' * 40}, {'o' * 40}", "AUDIT_ANCHOR_FILE": "/x/a"}
    )
    assert config["AUDIT_KEYS"] == ["n" * 40, "o" * 40]
    assert config["AUDIT_ANCHOR_FILE"] == "/x/a"


def test_demo_generates_and_keeps_its_secrets(tmp_path, monkeypatch):
    """The demo needs no setting: it makes its secret, data and audit keys once and reuses them."""
    import config as settings

    monkeypatch.setattr(settings, "INSTANCE", tmp_path)
    first = load_config({"PORTAL_ENV": "demo"})
    second = load_config({"PORTAL_ENV": "demo"})
    assert len(first["SECRET_KEY"]) >= 32
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["DATA_ENCRYPTION_KEYS"] == second["DATA_ENCRYPTION_KEYS"]
    assert first["AUDIT_KEYS"] == second["AUDIT_KEYS"] and len(first["AUDIT_KEYS"][0]) >= 32
    assert (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert first["AUDIT_ANCHOR_FILE"] == str(tmp_path / "audit-anchors.log")
    assert first["MAIL_SERVER"] is None
    assert first["SESSION_COOKIE_SECURE"] is False
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_wsgi_entry_point_refuses_to_start_unconfigured(monkeypatch):
    """`create_app()` in production without settings raises before serving anything."""
    from app import create_app

    for key in GOOD_PRODUCTION:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(ConfigError):
        create_app()


def test_the_database_pool_pings_before_use_unless_turned_off():
    """A connection left dead by a database restart is replaced before a request uses it
    (bench/soak.py: without it, the first request of every process failed with a 500)."""
    on = load_config({"PORTAL_ENV": "test"})
    assert on["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    off = load_config({"PORTAL_ENV": "test", "DATABASE_PRE_PING": "false"})
    assert off["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
    with pytest.raises(ConfigError, match="DATABASE_PRE_PING"):
        load_config({"PORTAL_ENV": "test", "DATABASE_PRE_PING": "maybe"})
