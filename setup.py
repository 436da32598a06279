"""The wheel carries what the portal reads from files, inside its package.

``create_app`` and ``config.py`` read the templates, static files, migrations,
compiled translations and catalogue from the checkout; an installed wheel has
no checkout, so the build copies them to ``app/_bundle`` (``config._files_root``
finds them there). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = ("templates", "static", "migrations", "translations", "catalogue")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.md")


def compile_translations() -> None:
    """Compile each ``messages.po`` whose ``.mo`` is missing or older (pybabel compile)."""
    for po in (HERE / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po.open("rb") as source:
            catalog = read_po(source)
        with mo.open("wb") as target:
            write_mo(target, catalog)


class BuildWithFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        compile_translations()
        target = Path(self.build_lib) / "app" / "_bundle"
        shutil.rmtree(target, ignore_errors=True)  # nothing left from an earlier build
        for name in BUNDLED:
            shutil.copytree(HERE / name, target / name, dirs_exist_ok=True, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithFiles})
