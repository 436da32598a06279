"""Snapshots of every email as the worker sends it: a wording change shows as a diff.

Each sample of ``tests/outbox/samples.py`` is queued the way the code does it
and sent by the worker's handler, which writes an ``.eml`` file (no
``MAIL_SERVER``). The sender, the addressee, the subject and both bodies are
compared exactly with ``tests/outbox/snapshots/<sample>.<lang>.txt``: the
requester's emails in French and English, the others in French, the only
language they are sent in. After an intended change, rewrite the snapshots
with ``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/outbox`` and read the diff
before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.outbox.samples import SAMPLES, job_for, languages, no_identity, sent, shown

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
CASES = [(name, lang) for name, sample in sorted(SAMPLES.items()) for lang in languages(sample)]


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_email_matches_its_snapshot(app, session, name, lang):
    """Each sample email, in each language it is sent in, is exactly its snapshot."""
    text = shown(sent(app, session, job_for(app, session, SAMPLES[name], lang)))
    no_identity(text)
    path = SNAPSHOTS / f"{name}.{lang}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1, read the diff"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} differs from the email sent now; if the change is intended, "
        "rewrite it with UPDATE_SNAPSHOTS=1 and read the diff"
    )


def test_every_snapshot_belongs_to_a_sample():
    """No snapshot is left behind by a renamed or removed sample."""
    expected = {f"{name}.{lang}.txt" for name, lang in CASES}
    assert {path.name for path in SNAPSHOTS.glob("*.txt")} == expected
