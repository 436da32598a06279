"""``flask worker`` that sleeps after erasing each source: ``python slow_worker.py SECONDS``.

Run from the project folder by tests/fulfilment/test_erasure.py, which kills it
between a source's deletion and the record of that step.
"""

import sys
import time
from pathlib import Path
from typing import Any

# Run as a script: the project folder (config.py, wsgi.py) is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flask.cli import main

from app.fulfilment import erasure

PAUSE = float(sys.argv[1])
_erase_source = erasure.erase_source


def erase_source_then_pause(*args: Any, **kwargs: Any) -> dict[str, int]:
    deleted = _erase_source(*args, **kwargs)
    time.sleep(PAUSE)
    return deleted


erasure.erase_source = erase_source_then_pause
sys.argv = ["flask", "--app", "wsgi", "worker"]
main()
