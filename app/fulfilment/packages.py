"""Access packages (Art. 15) and portable copies (Art. 20): built, encrypted, downloaded.

The ``build_package`` job reads exactly the rows the approved plan names
(by primary key, and only where they still belong to the plan's subject),
writes a machine-readable JSON document (``docs/package-format.md``) and a
printable HTML page in the request's language, encrypts both with the Vault
and, in the job's transaction, queues the download email and completes the
request. The portal database is not held while the sources are read: the
job commits once it has begun, so the status page can show the progress
written on a separate short connection.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Connection, Engine, select, tuple_, update
from sqlalchemy.orm import Session

from app import audit, fulfilment
from app.crypto import Vault
from app.fulfilment.report import report_line
from app.models import AccessPackage, Job, Request
from app.outbox import emails
from app.rules.catalogue import Source
from app.rules.routing import Line
from app.rules.sources import Warehouse
from app.services import Services

FORMAT_VERSION = 1
ACTOR = "system:packages"
# Keys read per query, and records between two progress updates.
BATCH = 500
PROGRESS_EVERY = 500
# Why a portability request gets the Art. 15 copy instead (Art. 20(3)).
PORTABILITY_REFUSED = "public_task"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "package"

# Fixed wording of the package, in each language (gettext is bound to Flask).
WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Vos données de santé",
        "intro": "Copie des données vous concernant, fournie en réponse à votre demande "
        "{reference} (RGPD art. 15). Conservez ce fichier en lieu sûr : il contient "
        "des données de santé.",
        "generated": "Document établi le",
        "records": "enregistrements",
        "no_records": "Aucun enregistrement de cette catégorie.",
        "purposes": "Finalités",
        "legal_basis": "Base légale",
        "recipients": "Destinataires",
        "no_recipient": "Aucun destinataire.",
        "transfers": "Transferts hors de l'Union européenne",
        "retention": "Durée de conservation",
        "origin": "Source des données",
        "automated_decisions": "Décisions automatisées",
        "table": "Table",
        "rights_title": "Vos droits",
        "rights": "Vous pouvez demander la rectification de données inexactes (art. 16), "
        "leur effacement (art. 17), la limitation de leur traitement (art. 18) et vous "
        "opposer à leur réutilisation pour la recherche (art. 21), depuis ce même portail.",
        "complaint": "Vous pouvez introduire une réclamation auprès de la CNIL : "
        "https://www.cnil.fr/fr/plaintes (3 place de Fontenoy, TSA 80715, 75334 Paris "
        "Cedex 07), et former un recours devant la juridiction compétente.",
        "contact": "Délégué à la protection des données",
        "third_parties": "Les informations concernant d'autres personnes ne figurent pas dans "
        "cette copie (RGPD art. 15.4). Les professionnels de santé qui vous ont pris en "
        "charge y sont nommés au titre de leur intervention.",
        "portable": "Ce fichier JSON est la copie portable de vos données (RGPD art. 20).",
        "public_task": "Vous avez demandé la portabilité de vos données. Elle ne s'applique "
        "qu'aux données que vous avez fournies sur la base de votre consentement ou d'un "
        "contrat ; une partie de ces données est traitée pour une mission d'intérêt public "
        "ou une obligation légale (RGPD art. 20.1 et 20.3). Vous recevez donc la copie "
        "prévue par l'article 15, dans un format lisible par machine (JSON).",
    },
    "en": {
        "title": "Your health data",
        "intro": "A copy of the data about you, given in answer to your request {reference} "
        "(GDPR Art. 15). Keep this file somewhere safe: it holds health data.",
        "generated": "Produced on",
        "records": "records",
        "no_records": "No record in this category.",
        "purposes": "Purposes",
        "legal_basis": "Legal basis",
        "recipients": "Recipients",
        "no_recipient": "No recipient.",
        "transfers": "Transfers outside the European Union",
        "retention": "Retention period",
        "origin": "Where the data comes from",
        "automated_decisions": "Automated decision-making",
        "table": "Table",
        "rights_title": "Your rights",
        "rights": "You may ask for inaccurate data to be corrected (Art. 16), for erasure "
        "(Art. 17), for processing to be restricted (Art. 18), and object to its reuse "
        "for research (Art. 21), through this same portal.",
        "complaint": "You may lodge a complaint with the CNIL, the French data protection "
        "authority: https://www.cnil.fr/fr/plaintes (3 place de Fontenoy, TSA 80715, "
        "75334 Paris Cedex 07), and seek a judicial remedy before the competent court.",
        "contact": "Data protection officer",
        "third_parties": "Information about other people is left out of this copy (GDPR "
        "Art. 15(4)). The health professionals who treated you are named for what they did.",
        "portable": "This JSON file is the portable copy of your data (GDPR Art. 20).",
        "public_task": "You asked for portability. It only applies to data you provided "
        "on the basis of your consent or a contract; some of this data is processed for a "
        "task in the public interest or a legal obligation (GDPR Art. 20(1) and 20(3)). You "
        "therefore receive the copy Article 15 provides, in a machine-readable format (JSON).",
    },
}


def words(locale: str) -> dict[str, str]:
    return WORDS["en" if locale.startswith("en") else "fr"]


@dataclass(frozen=True)
class Snapshot:
    request_id: int
    reference: str
    kind: str
    locale: str
    subjects: dict[str, Any]
    lines: tuple[Line, ...]
    generated_at: datetime


@dataclass
class Built:
    format: str
    portability_refused: str | None
    json_text: str
    html_text: str
    records: int
    # (source, category) -> records disclosed, and keys no longer found
    disclosed: dict[tuple[str, str], int] = field(default_factory=dict)
    missing: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.json_text.encode()).hexdigest()


def snapshot(request: Request, package: AccessPackage | None) -> Snapshot:
    plan = request.plan
    # Copied out of the session: the build touches no ORM object.
    lines = tuple(Line.of(line) for line in (plan.lines if plan else []))
    return Snapshot(
        request_id=request.id,
        reference=request.reference or "",
        kind=request.kind,
        locale="en" if request.locale.startswith("en") else "fr",
        subjects=dict(plan.subjects) if plan else {},
        lines=lines,
        # The package's own creation time: a rebuilt package is the same package.
        generated_at=package.created_at if package else request.created_at,
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_rows(
    warehouse: Warehouse,
    connection: Connection,
    source: Source,
    table_name: str,
    subject_key: Any,
    keys: Sequence[Sequence[Any]],
) -> Iterator[dict[str, Any]]:
    """The rows of ``keys`` that still belong to the subject, in the keys' order.

    Read by primary key, never by a broader query; the subject condition is a
    second lock: a key that no longer points at this person yields nothing.
    """
    spec = next(t for t in source.tables if t.name == table_name)
    table = warehouse.table(source, spec.name)
    pk = [table.c[c] for c in spec.primary_key]
    for chunk in _chunks(keys, BATCH):
        if len(pk) == 1:
            condition = pk[0].in_([k[0] for k in chunk])
        else:
            condition = tuple_(*pk).in_([tuple(k) for k in chunk])
        query = select(table).where(condition)
        if spec.link:
            link = warehouse.table(source, spec.link.table)
            query = query.join(link, table.c[spec.subject] == link.c[spec.link.key]).where(
                link.c[spec.link.subject] == subject_key
            )
        else:
            query = query.where(table.c[spec.subject] == subject_key)
        for row in connection.execute(query.order_by(*pk)).mappings():
            yield {name: _json_value(value) for name, value in row.items()}


def build(
    snap: Snapshot,
    services: Services,
    progress: Callable[[int], None] | None = None,
) -> Built:
    """Read the disclosed rows and write the JSON and HTML documents (nothing stored)."""
    say = words(snap.locale)
    disclose = [line for line in snap.lines if line.action == "disclose"]
    refused = None
    if snap.kind == "portability" and not all(_portable(services, li) for li in disclose):
        refused = PORTABILITY_REFUSED
    fmt = "portability" if snap.kind == "portability" and refused is None else "access"
    built = Built(fmt, refused, "", "", 0)
    entries: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    sources = [services.catalogue.source(li.source) for li in disclose]
    connections = services.warehouse.connections(sources)
    try:
        for line in disclose:
            source = services.catalogue.source(line.source)
            subject = snap.subjects.get(line.source)
            found = 0
            for table_name, keys in sorted(line.record_keys.items()):
                if subject is None:
                    break
                rows = read_rows(
                    services.warehouse,
                    connections[source.url],
                    source,
                    table_name,
                    subject,
                    keys,
                )
                spec = next(t for t in source.tables if t.name == table_name)
                for row in rows:
                    entries.append(
                        {
                            "source": line.source,
                            "category": line.category,
                            "table": table_name,
                            "key": {c: row[c] for c in spec.primary_key},
                            "fields": row,
                        }
                    )
                    found += 1
                    if progress and len(entries) % PROGRESS_EVERY == 0:
                        progress(len(entries))
            built.disclosed[(line.source, line.category)] = found
            built.missing[(line.source, line.category)] = line.record_count - found
            categories.append(_category(services, source, line, found, snap.locale))
    finally:
        for connection in connections.values():
            connection.close()
    built.records = len(entries)
    document = {
        "format": fmt,
        "format_version": FORMAT_VERSION,
        "reference": snap.reference,
        "language": snap.locale,
        "generated_at": snap.generated_at.isoformat(),
        "controller": {"data_protection_officer": services.limits.contact_email},
        "portability": {
            "requested": snap.kind == "portability",
            "refused": refused,
            "reason": say[refused] if refused else None,
        },
        "categories": categories,
        "rights": {"rights": say["rights"], "complaint": say["complaint"]},
        "third_parties": say["third_parties"],
        "records": entries,
    }
    # Compact: the C encoder is about ten times faster than an indented dump.
    built.json_text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    built.html_text = render_html(document, snap.locale)
    return built


def _portable(services: Services, line: Line) -> bool:
    try:
        return services.policy.rule(line.category, "portability").portable is True
    except KeyError:
        return False


def _category(
    services: Services, source: Source, line: Line, found: int, locale: str
) -> dict[str, Any]:
    info = source.categories[line.category]
    return {
        "source": source.name,
        "source_title": source.title.in_(locale),
        "category": line.category,
        "label": line.label.in_(locale),
        "records": found,
        "purposes": info.purposes.in_(locale),
        "legal_basis": info.legal_basis.in_(locale),
        "recipients": [r.name for r in info.recipients],
        "transfers": info.transfers.in_(locale),
        "retention": info.retention.in_(locale),
        "origin": info.origin.in_(locale),
        "automated_decisions": info.automated_decisions.in_(locale),
        "basis": line.basis.in_(locale),
        "portable": _portable(services, line),
    }


_environment: Environment | None = None


def render_html(document: dict[str, Any], locale: str) -> str:
    """The printable page, from ``templates/package/package.html`` (autoescaped)."""
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined
        )
    tables: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for entry in document["records"]:
        group = tables.setdefault((entry["source"], entry["category"]), {})
        shown = group.setdefault(entry["table"], {"columns": list(entry["fields"]), "rows": []})
        shown["rows"].append(["" if v is None else v for v in entry["fields"].values()])
    say = words(locale)
    return _environment.get_template("package.html").render(
        doc=document,
        say=say,
        intro=say["intro"].format(reference=document["reference"]),
        tables=tables,
    )


# --- the job ------------------------------------------------------------------


def prepare(session: Session, request: Request, plan_id: int, now: datetime) -> AccessPackage:
    """The request's one package row (reused by a rerun), reset to "being built"."""
    package = session.scalar(select(AccessPackage).where(AccessPackage.request_id == request.id))
    plan = request.plan
    total = sum(li.record_count for li in (plan.lines if plan else []) if li.action == "disclose")
    fmt = "portability" if request.kind == "portability" else "access"
    if package is None:
        package = AccessPackage(request_id=request.id, created_at=now, format=fmt)
        session.add(package)
    package.plan_id = plan_id
    package.records_total = total
    package.records_done = 0
    session.flush()
    return package


class ProgressWriter:
    """Writes ``records_done`` in its own short transaction, for the status page."""

    def __init__(self, engine: Engine, package_id: int) -> None:
        self.engine, self.package_id = engine, package_id

    def __call__(self, done: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(AccessPackage)
                .where(AccessPackage.id == self.package_id)
                .values(records_done=done)
            )


def report_lines(snap: Snapshot, built: Built | None) -> list[dict[str, Any]]:
    """What was done per category: counts and bases, never data."""
    lines = []
    for line in snap.lines:
        if line.action == "disclose" and built is not None:
            key = (line.source, line.category)
            found = built.disclosed.get(key, 0)
            lines.append(report_line(line, count=found, not_found=built.missing.get(key, 0)))
        else:
            lines.append(report_line(line, not_found=0))
    return lines


def store(
    session: Session,
    request: Request,
    package: AccessPackage,
    snap: Snapshot,
    built: Built,
    services: Services,
    now: datetime,
) -> None:
    """Encrypt and keep the package, email the link and complete the request, together."""
    vault = services.vault
    package.format = built.format
    package.portability_refused = built.portability_refused
    package.json_encrypted = (vault.encrypt(built.json_text) or "").encode()
    package.html_encrypted = (vault.encrypt(built.html_text) or "").encode()
    package.sha256 = built.sha256
    package.records_total = built.records
    package.records_done = built.records
    package.ready_at = now
    package.expires_at = now + timedelta(seconds=services.limits.download_link_max_age)
    package.failed_checks = 0
    package.downloaded_at = None
    package.deleted_at = None
    audit.record(
        session,
        actor=ACTOR,
        action="package.built",
        now=now,
        request_id=request.id,
        details={"records": built.records, "format": built.format, "sha256": built.sha256},
    )
    codes: dict[str, Any] = {
        "hours": services.limits.download_link_max_age // 3600,
        "records": built.records,
        "categories": len(built.disclosed),
        "portability_refused": built.portability_refused,
    }
    emails.queue_email(session, request, "package_ready", now, services.mail, extra=codes)
    fulfilment.complete(
        session, request, report_lines(snap, built), now, services.mail, email=codes
    )


def build_package_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``build_package`` jobs (access and portability).

    It commits once after ``begin`` so that neither the status page nor a
    progress update waits on this transaction while the sources are read; a
    rerun after a crash finds the request ``fulfilling`` and rebuilds the same
    package in the same row. The final write is the worker's commit.
    """
    request = session.get(Request, job.request_id) if job.request_id else None
    if request is None or not fulfilment.begin(session, request, now, services.mail):
        return
    plan = request.plan
    if plan is None or not any(line.action == "disclose" for line in plan.lines):
        # Nothing to copy (no data found, or referred elsewhere): the report is the answer.
        lines = report_lines(snapshot(request, None), None)
        fulfilment.complete(session, request, lines, now, services.mail)
        return
    package = prepare(session, request, plan.id, now)
    snap = snapshot(request, package)
    package_id = package.id
    engine = session.get_bind()
    session.commit()
    built = build(snap, services, ProgressWriter(engine, package_id))  # type: ignore[arg-type]
    request = session.get_one(Request, snap.request_id)
    package = session.get_one(AccessPackage, package_id)
    store(session, request, package, snap, built, services, now)


def expire_packages(session: Session, now: datetime) -> int:
    """Delete the content of packages whose link has expired; the row stays as proof.

    Called by the worker between batches (``app.outbox.housekeeping``) and by ``flask purge``.
    """
    ids = session.scalars(
        select(AccessPackage.id).where(
            AccessPackage.expires_at <= now, AccessPackage.deleted_at.is_(None)
        )
    ).all()
    for package_id in ids:
        package = session.get_one(AccessPackage, package_id)
        package.json_encrypted = None
        package.html_encrypted = None
        package.deleted_at = now
        audit.record(
            session,
            actor=ACTOR,
            action="package.deleted",
            now=now,
            request_id=package.request_id,
            details={"reason": "expired"},
        )
    session.flush()
    return len(ids)


def decrypt(vault: Vault, blob: bytes | None) -> str | None:
    """The plain text of a stored file, or None when it has been deleted."""
    return vault.decrypt(blob.decode()) if blob is not None else None


# --- the download ---------------------------------------------------------------


def availability(package: AccessPackage | None, now: datetime, attempts: int) -> str | None:
    """Why a package cannot be downloaded (missing, gone, locked), or None if it can."""
    if package is None or package.ready_at is None:
        return "missing"
    if (
        package.deleted_at is not None
        or package.json_encrypted is None
        or (package.expires_at is not None and package.expires_at <= now)
    ):
        return "gone"
    if package.failed_checks >= attempts:
        return "locked"
    return None


def check_birth_date(
    session: Session, package: AccessPackage, request: Request, given: date, now: datetime
) -> bool:
    """The second check of a download; a wrong date counts against the link."""
    if given == request.birth_date:
        audit.record(
            session, actor="requester", action="package.unlocked", now=now, request_id=request.id
        )
        return True
    # One conditional increment: attempts made at once are all counted.
    session.execute(
        update(AccessPackage)
        .where(AccessPackage.id == package.id)
        .values(failed_checks=AccessPackage.failed_checks + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(package, ["failed_checks"])
    audit.record(
        session,
        actor="requester",
        action="package.check_failed",
        now=now,
        request_id=request.id,
        details={"failed_checks": package.failed_checks},
    )
    return False


def record_download(session: Session, package: AccessPackage, kind: str, now: datetime) -> None:
    """Note a download (the first one's time on the package) and audit it: no data."""
    if package.downloaded_at is None:
        package.downloaded_at = now
    audit.record(
        session,
        actor="requester",
        action="package.downloaded",
        now=now,
        request_id=package.request_id,
        details={"file": kind},
    )
