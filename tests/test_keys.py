"""Key rotation: `flask keys rotate` moves every encrypted value to the newest data key
(resumable, in batches), after which the old key can be dropped and everything still reads;
old SECRET_KEYs keep sessions and links working during a change of secret."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from itsdangerous import BadSignature
from sqlalchemy import select

from app import keyrotation, tokens
from app.crypto import UnknownKey, Vault
from app.extensions import db
from app.models import Base, CaseNote, IdentityDocument, RelationshipProof, Request, utcnow
from app.services import services_of
from app.tokens import LinkError, LinkSigner
from config import ConfigError, load_config
from tests.fulfilment.test_packages import fulfilled, opened, package_of

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _everything(app) -> dict[str, list[str]]:
    """Every encrypted value of the database, decrypted with the app's keys."""
    vault = services_of(app).vault
    found: dict[str, list[str]] = {}
    with app.app_context():
        for column in keyrotation.ENCRYPTED:
            values = db.session.scalars(
                select(column.attribute).where(column.attribute.is_not(None))
            ).all()
            found[column.label] = [
                vault.decrypt(v.decode() if isinstance(v, bytes) else v) for v in values
            ]
        db.session.remove()
    return found


def test_every_encrypted_column_is_rotated():
    """A model column named *_encrypted that the rotation does not know would keep an old key
    alive for ever: every one is listed in keyrotation.ENCRYPTED."""
    declared = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_encrypted")
    }
    assert declared == {column.label for column in keyrotation.ENCRYPTED}


def test_rotate_then_drop_the_old_key_and_everything_still_reads(make_app, smtp):
    """Filed, routed, approved and packaged under the old key; rotated; the old key removed:
    numbers, free texts, notes, TOTP secrets and the package all read as before."""
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}
    before_app = make_app(DATA_ENCRYPTION_KEYS=[OLD], **mail)
    request_id, _ = fulfilled(before_app, smtp)
    with before_app.app_context():
        request = db.session.get(Request, request_id)
        request.details_encrypted = services_of(before_app).vault.encrypt("texte libre")
        request.refusal_message_encrypted = services_of(before_app).vault.encrypt("un message")
        # A request made for someone else: the requester's own identity.
        request.requester_encrypted = services_of(before_app).vault.encrypt(
            '{"first_name": "Paul"}'
        )
        note = CaseNote(
            request_id=request_id,
            kind="note",
            author="staff:1",
            body_encrypted=services_of(before_app).vault.encrypt("une note"),
            created_at=utcnow(),
        )
        db.session.add(note)
        # A document left waiting on the request (``flask purge`` deletes it later).
        db.session.add(
            IdentityDocument(
                request_id=request_id,
                media_type="image/png",
                size=3,
                content_encrypted=services_of(before_app).vault.encrypt_bytes(b"png"),
                uploaded_at=utcnow(),
            )
        )
        db.session.add(
            RelationshipProof(
                request_id=request_id,
                proof="mandate",
                media_type="image/png",
                size=3,
                content_encrypted=services_of(before_app).vault.encrypt_bytes(b"png"),
                uploaded_at=utcnow(),
            )
        )
        db.session.commit()
        assert request.nir_encrypted and request.details_encrypted
        db.session.remove()
    before = _everything(before_app)
    document, html = opened(before_app, package_of(before_app, request_id))
    assert all(before.values()), f"a column has nothing to rotate: {before}"

    both = make_app(DATA_ENCRYPTION_KEYS=[NEW, OLD], **mail)
    runner = both.test_cli_runner()
    status = runner.invoke(args=["keys", "status"])
    assert status.exit_code == 1 and "still need an old key" in status.output
    rotated = runner.invoke(args=["keys", "rotate", "--batch", "1"])
    assert rotated.exit_code == 0, rotated.output
    assert "requests.nir_encrypted: 1 re-encrypted" in rotated.output
    # Not a terminal: the progress comes as lines a log keeps, not a bar drawn in place.
    assert re.search(r"requests\.nir_encrypted: 1/1 \(100%\), [\d,]+/s", rotated.output)
    assert "the older keys can be removed" in rotated.output
    again = runner.invoke(args=["keys", "rotate"])
    assert "0 re-encrypted" in again.output and "UNREADABLE" not in again.output

    after_app = make_app(DATA_ENCRYPTION_KEYS=[NEW], **mail)
    assert _everything(after_app) == before
    assert opened(after_app, package_of(after_app, request_id)) == (document, html)
    with pytest.raises(UnknownKey):
        Vault([OLD]).decrypt(package_of(after_app, request_id).json_encrypted.decode())


def test_a_rotation_stopped_half_way_goes_on_where_it_stopped(make_app):
    """Batches are committed as they go: after a stop, some values are under the new key,
    and running again re-encrypts only the others."""
    _notes_under_the_old_key(make_app, 5)
    app = make_app(DATA_ENCRYPTION_KEYS=[NEW, OLD])
    both = services_of(app).vault
    column = next(c for c in keyrotation.ENCRYPTED if c.model is CaseNote)

    class Stop(Exception):
        pass

    def stop_after_first(done: int) -> None:
        raise Stop

    with app.app_context():
        session = db.session()
        with pytest.raises(Stop):
            keyrotation.rotate(session, both, column, batch=2, progress=stop_after_first)
        session.rollback()
        assert keyrotation.census(session, both, column) == {"newest": 2, "old-1": 3}
        outcome = keyrotation.rotate(session, both, column, batch=2)
        assert (outcome.seen, outcome.rotated) == (5, 3)
        assert keyrotation.census(session, both, column) == {"newest": 5}
        db.session.remove()


def test_a_value_changed_while_it_is_rotated_is_left_to_the_next_run(make_app):
    """The batch's update is conditional on the value read: a note edited between the read
    and the write keeps its edit (counted as changed meanwhile), the others are rotated."""
    _notes_under_the_old_key(make_app, 3)
    app = make_app(DATA_ENCRYPTION_KEYS=[NEW, OLD])
    column = next(c for c in keyrotation.ENCRYPTED if c.model is CaseNote)
    with app.app_context():
        session = db.session()
        first = session.scalar(select(CaseNote.id).order_by(CaseNote.id).limit(1))
        edited = Vault([OLD]).encrypt("edited meanwhile")

        class EditingVault(Vault):
            """Someone edits the first note while the rotation works on its batch."""

            def rotate(self, token: str) -> str:
                session.execute(
                    CaseNote.__table__.update()
                    .where(CaseNote.__table__.c.id == first)
                    .values(body_encrypted=edited)
                )
                return super().rotate(token)

        outcome = keyrotation.rotate(session, EditingVault([NEW, OLD]), column, batch=10)
        assert (outcome.seen, outcome.rotated, outcome.changed_meanwhile) == (3, 2, 1)
        assert session.scalar(select(CaseNote.body_encrypted).where(CaseNote.id == first)) == (
            edited
        )
        db.session.remove()


def _notes_under_the_old_key(make_app, count: int) -> None:
    """A request with ``count`` case notes, all encrypted under OLD."""
    old_app = make_app(DATA_ENCRYPTION_KEYS=[OLD])
    vault = services_of(old_app).vault
    request_id = _a_request(old_app)
    with old_app.app_context():
        for i in range(count):
            db.session.add(
                CaseNote(
                    request_id=request_id,
                    kind="note",
                    author="staff:1",
                    body_encrypted=vault.encrypt(f"note {i}"),
                    created_at=utcnow(),
                )
            )
        db.session.commit()
        db.session.remove()


def _a_request(app) -> int:
    """A request filed through the domain function; its id."""
    from datetime import date

    from app import intake

    portal = services_of(app)
    with app.app_context():
        intake.file_request(
            db.session(),
            intake.Filing(
                kind="access",
                first_name="Jeanne",
                last_name="Durand",
                birth_date=date(1975, 3, 2),
                email="jeanne@example.fr",
                locale="fr",
            ),
            now=utcnow(),
            vault=portal.vault,
            names=portal.names,
            mail=portal.mail,
            per_address_per_hour=5,
        )
        db.session.commit()
        request_id = int(db.session.scalar(select(Request.id).limit(1)))
        db.session.remove()
    return request_id


OLD_SECRET, NEW_SECRET = "o" * 48, "n" * 48


def test_links_signed_with_an_old_secret_still_open_with_its_fallback(app):
    """A status link emailed before SECRET_KEY changed keeps working while the old secret
    is listed in SECRET_KEY_FALLBACKS, and stops once it is removed."""
    now = utcnow()
    request_id = _a_request(app)
    context = app.app_context()
    context.push()
    session = db.session()
    row, value = tokens.link_values(request_id, tokens.STATUS_PAGE, now, 3600)
    link = tokens.LinkToken(**row)
    session.add(link)
    session.flush()
    signed = LinkSigner(OLD_SECRET).sign(value, tokens.STATUS_PAGE)
    rotated = LinkSigner(NEW_SECRET, [OLD_SECRET])
    found = rotated.resolve(session, signed, tokens.STATUS_PAGE, now + timedelta(minutes=1), 3600)
    assert found.id == link.id
    assert rotated.sign(value, tokens.STATUS_PAGE) == LinkSigner(NEW_SECRET).sign(
        value, tokens.STATUS_PAGE
    ), "new links are signed with the new secret"
    with pytest.raises(LinkError):
        LinkSigner(NEW_SECRET).resolve(session, signed, tokens.STATUS_PAGE, now, 3600)

    db.session.remove()
    context.pop()


def test_sessions_signed_with_an_old_secret_survive_the_change(make_app):
    """Flask reads a session cookie signed with a key of SECRET_KEY_FALLBACKS."""
    old = make_app(SECRET_KEY=OLD_SECRET)
    cookie = old.session_interface.get_signing_serializer(old).dumps({"status_request": 7})
    new = make_app(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET])
    assert new.session_interface.get_signing_serializer(new).loads(cookie) == {"status_request": 7}
    alone = make_app(SECRET_KEY=NEW_SECRET)
    with pytest.raises(BadSignature):
        alone.session_interface.get_signing_serializer(alone).loads(cookie)


def test_secret_key_fallbacks_come_from_the_environment():
    """Comma-separated, newest first; a short one is refused by name."""
    config = load_config({"PORTAL_ENV": "test", "SECRET_KEY_FALLBACKS": f"{'a' * 32}, {'b' * 32}"})
    assert config["SECRET_KEY_FALLBACKS"] == ["a" * 32, "b" * 32]
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS"):
        load_config({"PORTAL_ENV": "test", "SECRET_KEY_FALLBACKS": "short"})
