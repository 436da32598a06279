"""Fulfilment of one subject with 10,000 records, at 10,000 and 1,000,000 citizens.

Runs ``bench/package.py`` (building and encrypting the access package) and
``bench/erasure.py`` (erasing by the plan's keys) one after the other, each
printing its time and peak memory per warehouse size. Both keep their
warehouses in ``--keep DIR`` when given, so a rerun skips the 1M build.

    .venv/bin/python bench/fulfilment.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the warehouses here and reuse them")
    args = parser.parse_args()
    failed = 0
    for script in ("package.py", "erasure.py"):
        extra = ["--keep", str(args.keep / script.removesuffix(".py"))] if args.keep else []
        print(f"== {script} ==", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / script), *extra]).returncode
    sys.exit(failed)


if __name__ == "__main__":
    main()
