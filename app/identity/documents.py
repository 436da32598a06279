"""An identity document sent by the requester: checked, stored encrypted, decided by staff.

``inspect`` decides what a file is from its first bytes, never from its name
or the browser's header, and keeps only what it rebuilt itself: an image is
decoded and encoded again by Pillow (no metadata, nothing after the picture,
so a picture that is also a PDF or a web page loses the other half), a PDF is
parsed and written again by pypdf after every object reachable from it was
searched for scripts, actions, attachments and XFA forms. What it refuses
raises ``DocumentRefused`` with a code the status page explains.

``store`` keeps the result, encrypted by the vault, as the request's one
waiting document (the database refuses a second). ``decide`` is the staff
decision: accepted raises the request to the ``document`` level, refused asks
the requester for another with a reason; either way the file is deleted in
the same transaction, and the audit keeps who decided what and when.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pypdf
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import generic
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import lifecycle
from app.casework.cases import CaseError
from app.crypto import Vault
from app.identity import assurance, decision, proof_files
from app.identity.policy import AssurancePolicy
from app.identity.proof_files import Checked, DocumentRefused
from app.models import AuditEvent, IdentityDocument, Request, StaffUser
from app.outbox import emails

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
MAGIC = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
# A phone photo is 12 to 50 megapixels; beyond this a small file that inflates is a bomb.
MAX_PIXELS = 60_000_000
# A scanned identity document has a few pages and a few hundred objects.
MAX_PDF_OBJECTS = 20_000
MAX_PDF_PAGES = 20
# Why staff ask for another document; the requester reads the reason (labels).
REFUSAL_REASONS = ("unreadable", "expired", "other_person", "not_identity", "incomplete")
REFUSED_EMAIL = "identity_document_refused"
# What proof_files keeps and audits of an identity document, and decision decides on.
KIND = proof_files.Kind(
    table=IdentityDocument,
    kept=IdentityDocument.media_type,
    reasons=REFUSAL_REASONS,
    received="identity.document_received",
    viewed="identity.document_viewed",
    accepted="identity.document_accepted",
    refused="identity.document_refused",
    missing="no_document",
)

# Names that make a PDF do something when opened or clicked, or carry another file.
_PDF_NAMES = {
    "/JS": "pdf_script",
    "/JavaScript": "pdf_script",
    "/AA": "pdf_script",
    "/Launch": "pdf_launch",
    "/GoToE": "pdf_attachment",
    "/EmbeddedFiles": "pdf_attachment",
    "/EmbeddedFile": "pdf_attachment",
    "/FileAttachment": "pdf_attachment",
    "/RichMedia": "pdf_attachment",
    "/XFA": "pdf_form",
    "/SubmitForm": "pdf_form",
    "/ImportData": "pdf_form",
}


def sniff(data: bytes) -> str | None:
    """The media type the first bytes announce, if one of the three accepted."""
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def inspect(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Checked:
    """Check an uploaded file and rebuild it; raises ``DocumentRefused(code)``.

    Codes: ``empty``, ``too_large``, ``wrong_type``, ``unreadable``,
    ``too_many_pixels``, ``pdf_encrypted``, ``pdf_script``, ``pdf_launch``,
    ``pdf_attachment``, ``pdf_form``.
    """
    if not data:
        raise DocumentRefused("empty")
    if len(data) > max_bytes:
        raise DocumentRefused("too_large")
    media_type = sniff(data)
    if media_type is None:
        raise DocumentRefused("wrong_type")
    if media_type == PDF:
        return Checked(PDF, _clean_pdf(data))
    return Checked(media_type, _reencode(data, media_type))


def _reencode(data: bytes, media_type: str) -> bytes:
    """Decode the picture and encode it again: pixels only, nothing before or after them."""
    kind = "JPEG" if media_type == JPEG else "PNG"
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size
            # Checked before decoding: Pillow would only warn below twice its own limit.
            if width * height > MAX_PIXELS:
                raise DocumentRefused("too_many_pixels")
            image.load()
            # The photo as it looked on the phone, since its orientation tag is dropped.
            upright = ImageOps.exif_transpose(image)
    except DocumentRefused:
        raise
    except Image.DecompressionBombError:
        raise DocumentRefused("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DocumentRefused("unreadable") from None
    if kind == "JPEG":
        pixels = upright.convert("L" if upright.mode in ("1", "L") else "RGB")
    else:
        keep = ("L", "LA", "RGB", "RGBA")
        has_alpha = "A" in upright.mode or "transparency" in upright.info
        pixels = (
            upright if upright.mode in keep else upright.convert("RGBA" if has_alpha else "RGB")
        )
    clean = pixels.copy()
    # No EXIF (place, device, date), ICC profile, comments or text chunks carried over.
    clean.info = {}
    out = io.BytesIO()
    if kind == "JPEG":
        clean.save(out, "JPEG", quality=90)
    else:
        clean.save(out, "PNG", optimize=False)
    return out.getvalue()


def _clean_pdf(data: bytes) -> bytes:
    """Search every object the PDF reaches, then write it again from those objects only."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentRefused("pdf_encrypted")
        if not 0 < len(reader.pages) <= MAX_PDF_PAGES:
            raise DocumentRefused("unreadable")
        _search(reader.trailer)
        writer = pypdf.PdfWriter(clone_from=reader)
        out = io.BytesIO()
        writer.write(out)
        rebuilt = out.getvalue()
        # What is stored is what was written: search it again, as read back.
        again = pypdf.PdfReader(io.BytesIO(rebuilt), strict=False)
        _search(again.trailer)
        if len(again.pages) != len(reader.pages):
            raise DocumentRefused("unreadable")
    except DocumentRefused:
        raise
    except Exception:
        # pypdf raises many kinds of errors on a broken file; all mean the same here.
        raise DocumentRefused("unreadable") from None
    return rebuilt


def _search(root: Any) -> None:
    """Refuse the first forbidden name met among the objects reachable from ``root``."""
    for name, value in _names(root):
        code = _PDF_NAMES.get(name)
        if code is not None:
            raise DocumentRefused(code)
        if name == "/OpenAction" and _is_action(value):
            # A destination (open at page 1) is harmless; an action dictionary is not.
            raise DocumentRefused("pdf_script")


def _is_action(value: Any) -> bool:
    target = value.get_object() if isinstance(value, generic.IndirectObject) else value
    if isinstance(target, generic.DictionaryObject):
        return target.get("/S") != "/GoTo"
    return False


def _names(root: Any) -> Iterator[tuple[str, Any]]:
    """Every name in the object graph (as a key, with its value, or as a value), once per object.

    pypdf decodes ``#xx`` escapes, so ``/J#53`` is met as ``/JS``.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_PDF_OBJECTS:
                raise DocumentRefused("unreadable")
            stack.append(item.get_object())
        elif isinstance(item, generic.DictionaryObject):
            for name, value in item.items():
                yield str(name), value
                stack.append(value)
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item)
        elif isinstance(item, generic.NameObject):
            yield str(item), None


def waiting(session: Session, request: Request) -> IdentityDocument | None:
    """The document waiting for a check on this request, if one was sent."""
    return session.scalar(
        select(IdentityDocument).where(IdentityDocument.request_id == request.id)
    )


def last_refusal(session: Session, request: Request) -> str | None:
    """The reason staff gave for the last document, if they asked for another since."""
    event = session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.request_id == request.id,
            AuditEvent.action.in_((KIND.received, KIND.refused)),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if event is None or event.action != KIND.refused:
        return None
    return str(event.details.get("reason")) if event.details.get("reason") else None


def store(
    session: Session, request: Request, checked: Checked, vault: Vault, now: datetime
) -> IdentityDocument:
    """Keep a checked file, encrypted, as the request's waiting document.

    Refused with ``not_provable`` when no proof is taken for the request any
    more, and ``already_waiting`` while a document waits (the unique index
    decides between two sent at once: one row, the other refused).
    """
    if not assurance.can_prove(request) or request.assurance == "document":
        raise DocumentRefused("not_provable")
    if waiting(session, request) is not None:
        raise DocumentRefused("already_waiting")
    return proof_files.keep(session, request, IdentityDocument(), KIND, checked, vault, now)


def decide(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    document_id: int,
    accepted: bool,
    reason: str | None,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
    policy: AssurancePolicy,
) -> bool:
    """Staff checked the document: accept it (level ``document``) or ask for another.

    Returns whether the request left ``awaiting_identity`` (routing runs
    again). The document is deleted first, by one conditional ``DELETE``:
    of two decisions made at once, one finds it and the other is refused.
    A frozen or closed request can still have its document refused, which
    deletes it, but not accepted.
    """
    decided = decision.take(
        session, request, staff, KIND, document_id, accepted, reason, version, now
    )
    who = decided.who
    if not accepted:
        # The page a stale form was read from no longer holds this document.
        lifecycle.touch(session, request, actor=who, now=now)
        # A frozen or closed request takes no other proof: nobody is asked for one.
        if decided.provable:
            emails.queue_email(
                session, request, REFUSED_EMAIL, now, mail, extra={"reason": reason}
            )
        return False
    try:
        return assurance.raise_level(
            session,
            request,
            "document",
            method="document",
            actor=who,
            now=now,
            mail=mail,
            policy=policy,
        )
    except assurance.AssuranceRefused as refusal:
        raise CaseError(refusal.reason) from None
