"""gunicorn's production settings, read from the environment: ``gunicorn -c python:app.serving``.

The entrypoint (``deploy/entrypoint.sh web``) starts gunicorn with this module,
in the container and under systemd alike. Sizing comes from ``WEB_*``
variables (defaults from docs/benchmarks.md: gthread, 2 × cores + 1 workers of
2 threads). gunicorn writes no access log: the portal logs each request itself,
with the route's pattern instead of its path, so no link token reaches a log
(``app.logs``). Nothing here imports Flask at load: the app is built by the
master in ``on_starting``, to compare the live sources with the catalogue, then
by each worker from ``wsgi:app``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class SizingError(ValueError):
    """A ``WEB_*`` variable is not a usable number."""


def _number(env: Mapping[str, str], name: str, default: int, low: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SizingError(f"{name}={raw!r} is not a whole number.") from None
    if value < low:
        raise SizingError(f"{name}={raw!r} must be at least {low}.")
    return value


def sizing(env: Mapping[str, str], cores: int | None = None) -> dict[str, Any]:
    """gunicorn's settings from an environment mapping (``os.environ``)."""
    cores = cores or os.cpu_count() or 1
    return {
        "bind": [b.strip() for b in env.get("WEB_BIND", "127.0.0.1:8000").split(",") if b.strip()],
        "worker_class": "gthread",
        "workers": _number(env, "WEB_WORKERS", 2 * cores + 1),
        "threads": _number(env, "WEB_THREADS", 2),
        # A request that takes longer than this is a stuck worker: gunicorn kills it.
        "timeout": _number(env, "WEB_TIMEOUT", 30),
        # SIGTERM: requests under way get this long to finish (systemd's
        # TimeoutStopSec and the container's stop timeout must be longer).
        "graceful_timeout": _number(env, "WEB_GRACEFUL_TIMEOUT", 25),
        "keepalive": _number(env, "WEB_KEEPALIVE", 5),
        # A worker is replaced after so many requests (0: never), jittered so
        # that they do not all restart at once.
        "max_requests": _number(env, "WEB_MAX_REQUESTS", 2000, low=0),
        "max_requests_jitter": _number(env, "WEB_MAX_REQUESTS_JITTER", 200, low=0),
        # Who may set X-Forwarded-Proto (https): the proxy's address only.
        "forwarded_allow_ips": env.get("FORWARDED_ALLOW_IPS", "127.0.0.1").strip(),
        "accesslog": None,
        "errorlog": "-",
        "loglevel": env.get("WEB_LOG_LEVEL", "info").strip() or "info",
        "proc_name": env.get("WEB_NAME", "portal-web").strip() or "portal-web",
        **_control_socket(env),
    }


def _control_socket(env: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn's control socket (``gunicornc``) only where ``WEB_CONTROL_SOCKET`` names one.

    Its default path is in ``$HOME``: two instances on one host would share it, and
    the systemd units give the service no writable home.
    """
    path = env.get("WEB_CONTROL_SOCKET", "").strip()
    return {"control_socket": path} if path else {"control_socket_disable": True}


try:
    globals().update(sizing(os.environ))
except SizingError as _error:
    print(f"The portal cannot start: {_error}", file=sys.stderr)
    sys.exit(1)


def on_starting(server: Any) -> None:
    """Refuse to serve when the live sources do not match the catalogue; reset the metrics;
    mask link tokens in gunicorn's own log ("Error handling request POST /verify/<token>")."""
    from app import create_app
    from app.logs import mask_gunicorn_log
    from app.services import check_sources, services_of
    from config import ConfigError

    mask_gunicorn_log()

    metrics = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if metrics:
        # Files left by a previous run would add its counts to this one's.
        shutil.rmtree(metrics, ignore_errors=True)
        Path(metrics).mkdir(parents=True, exist_ok=True)
    try:
        app = create_app()
        check_sources(services_of(app))
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    services_of(app).warehouse.dispose()


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's gauges must not be summed with the living ones'."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
