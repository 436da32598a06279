"""Anchors of the audit chain outside the database: one line a day in an append-only file.

An anchor is a day, the position of the last sealed event and that event's
hash: ``2026-03-02 1234 <64 hex>``. Once written, the events up to that
position can no longer be rewritten, even by someone holding the audit key,
without the file (and the copy emailed to the DPOs, in the same form) telling
it. The file is opened for appending only, and each line is flushed to disk
before the anchor counts as written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

LINE = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d+) ([0-9a-f]{64})")


class AnchorFileError(ValueError):
    """A line of the anchor file is not an anchor (the message names the line)."""


@dataclass(frozen=True)
class Anchor:
    day: date
    seq: int
    hash: str
    # Where it was read from, for messages: the line number in its file (0: not read).
    line: int = 0

    def text(self) -> str:
        """The anchor as the file and the DPOs' email write it."""
        return f"{self.day.isoformat()} {self.seq} {self.hash}"


def parse(text: str, line: int = 0) -> Anchor:
    """Read one anchor line; ``AnchorFileError`` naming the line when it is not one."""
    found = LINE.fullmatch(text.strip())
    if found is None:
        raise AnchorFileError(f"line {line} is not an anchor (date, event number, hash)")
    try:
        day = date.fromisoformat(found[1])
    except ValueError:
        raise AnchorFileError(f"line {line} has no valid date") from None
    return Anchor(day, int(found[2]), found[3], line)


def read(path: Path) -> list[Anchor] | None:
    """Every anchor of the file, in the order written; None when there is no file."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise AnchorFileError("the file holds something other than anchors") from None
    return [parse(raw, number) for number, raw in enumerate(text.splitlines(), 1) if raw.strip()]


def append(path: Path, anchor: Anchor) -> None:
    """Add one line at the end of the file and wait until it is on disk.

    Appending mode never rewrites what is there; on a file marked append-only
    (``chattr +a``) it is the only write the system allows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (anchor.text() + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
