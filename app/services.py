"""The portal's services: built once by ``create_app``, handed to every job and view.

One frozen object carries what the domain needs from configuration (the
catalogue, the policy, the warehouse, the vault, the link signer, the mail
settings, the limits, the audit keys, the assurance policy and the
representation rules), so a job handler's signature says everything it
uses: ``fn(session, job, now, services)``. Nothing here imports Flask:
the factory builds the object, ``services_of`` is the one place that reads
it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.audit.keys import Keyring
from app.crypto import Vault
from app.identity.policy import AssurancePolicy
from app.models import Job
from app.name_search import NameIndex
from app.outbox.emails import MailSettings
from app.rules.catalogue import Catalogue
from app.rules.policy import Policy
from app.rules.representation import Representation
from app.rules.sources import Warehouse
from app.tokens import LinkSigner
from config import ConfigError

EXTENSION = "portal"


class Postman(Protocol):
    """Sends one email job (the mail transport lives with the web framework)."""

    def send(self, session: Session, job: Job, now: datetime) -> None: ...

    def idle(self) -> None:
        """No email is waiting: let go of the connection to the mail server."""


@dataclass(frozen=True)
class Limits:
    """The figures from configuration that jobs and views act on."""

    unverified_ttl: int
    reminder_hour: int
    reminder_days: int
    download_link_max_age: int
    download_check_attempts: int
    contact_email: str


@dataclass(frozen=True)
class Operator:
    """Who runs the portal and holds the data: shown on packages and the notices."""

    name: str = ""
    address: str = ""
    dpo_email: str = ""
    dpo_address: str = ""
    publication_director: str = ""
    hosting_provider: str = ""

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Operator:
        return cls(
            name=str(config.get("CONTROLLER_NAME", "")),
            address=str(config.get("CONTROLLER_ADDRESS", "")),
            dpo_email=str(config.get("CONTACT_EMAIL", "")),
            dpo_address=str(config.get("DPO_ADDRESS", "")),
            publication_director=str(config.get("PUBLICATION_DIRECTOR", "")),
            hosting_provider=str(config.get("HOSTING_PROVIDER", "")),
        )


@dataclass(frozen=True)
class AuditSettings:
    """The audit chain's keys (``AUDIT_KEYS``) and where its daily anchors go."""

    keyring: Keyring
    anchor_file: Path


@dataclass(frozen=True)
class Services:
    catalogue: Catalogue
    policy: Policy
    warehouse: Warehouse
    vault: Vault
    signer: LinkSigner
    mail: MailSettings
    limits: Limits
    postman: Postman
    audit: AuditSettings
    assurance: AssurancePolicy
    names: NameIndex
    # Who may act for someone else, and what they are sent (catalogue/representation.toml).
    representation: Representation
    operator: Operator = field(default_factory=Operator)


class HasExtensions(Protocol):
    @property
    def extensions(self) -> Mapping[str, Any]: ...


def services_of(app: HasExtensions) -> Services:
    """The services ``create_app`` attached to ``app``."""
    services = app.extensions[EXTENSION]
    if not isinstance(services, Services):
        raise TypeError("the portal's services were not built by create_app")
    return services


def check_sources(services: Services) -> None:
    """Compare the catalogue with the live sources; raise ConfigError naming each problem.

    Run where the portal serves or works (gunicorn, the worker, ``flask rules
    check``), not when the app is built, so administrative commands still run
    while a source is down.
    """
    problems = services.warehouse.check()
    if problems:
        raise ConfigError(
            "The sources do not match the catalogue:\n" + "\n".join(f"  - {p}" for p in problems)
        )
