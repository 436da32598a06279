"""The built wheel is a whole portal: installed in a fresh virtual environment, away from
the checkout, it migrates a database, serves pages in French and runs its commands."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# What the installed portal does, run by the fresh environment's Python from an empty folder.
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import app, config
    from flask_migrate import upgrade

    venv = Path(sys.prefix).resolve()
    assert Path(app.__file__).resolve().is_relative_to(venv), app.__file__
    assert Path(config.__file__).resolve().is_relative_to(venv), config.__file__
    assert config.ROOT.name == "_bundle", config.ROOT
    assert config.INSTANCE == Path.cwd() / "instance", config.INSTANCE

    portal = app.create_app({"PORTAL_ENV": "test", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                             "WAREHOUSE_URL": sys.argv[2]})
    with portal.app_context():
        upgrade(directory=str(config.ROOT / "migrations"))
    client = portal.test_client()
    page = client.get("/", headers={"Accept-Language": "fr"})
    assert page.status_code == 200, page.status_code
    french = page.get_data(as_text=True)
    assert "Exercer vos droits sur vos données de santé" in french, "no compiled French"
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Exercise your rights over your health data" in english
    assert client.get("/static/portal.css").status_code == 200
    print("installed portal ok")
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the checkout, installed without dependencies in a new venv that
    borrows the test venv's dependencies (but not its editable install of the portal)."""
    folder = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(folder / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (folder / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "config.py",
        "wsgi.py",
        "app/_bundle/catalogue/sources.toml",
        "app/_bundle/migrations/env.py",
        "app/_bundle/static/portal.css",
        "app/_bundle/templates/base.html",
        "app/_bundle/translations/fr/LC_MESSAGES/messages.mo",
    ):
        assert needed in names, f"the wheel lacks {needed}"
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path line: the test venv's .pth files (its editable finder) are not run.
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FLASK"))}
    return {**env, "PORTAL_ENV": "test", "HOME": str(tmp)}


def test_the_installed_wheel_builds_the_app_and_serves_french(installed, tmp_path, warehouse):
    """Away from the checkout, create_app finds its templates, static files, migrations,
    compiled French catalogue and catalogue files inside the installed package."""
    run = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            SCRIPT,
            f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            f"sqlite:///{warehouse}",
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "installed portal ok" in run.stdout


def test_the_portal_console_script_runs_the_commands(installed, tmp_path, warehouse):
    """`portal db upgrade` and `portal rules check` work from any folder, app preset."""
    env = {
        **_env(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        "WAREHOUSE_URL": f"sqlite:///{warehouse}",
    }
    for args in (["db", "upgrade"], ["rules", "check"]):
        run = subprocess.run(
            [str(installed / "bin" / "portal"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, f"portal {' '.join(args)}: {run.stderr[-3000:]}"
