#!/bin/sh
# The one way the portal's processes start: the container (Containerfile) and the
# systemd units (deploy/systemd) both run this script, so testing it tests them
# (tests/test_deploy.py).
#
#   entrypoint.sh web [gunicorn options]   gunicorn with app/serving.py (WEB_* sizing)
#   entrypoint.sh worker [--once]          the job worker; SIGTERM ends it after its job
#   entrypoint.sh migrate                  flask db upgrade
#   entrypoint.sh purge                    flask purge (the daily timer)
#   entrypoint.sh anchor                   flask audit anchor (the daily timer)
#   entrypoint.sh check                    flask rules check
#   entrypoint.sh COMMAND ...              any other flask command (keys rotate, staff ...)
#
# PORTAL_HOME: a checkout to run from (its folder holds wsgi.py); unset for an
# installed portal (the wheel). PORTAL_VENV: the virtual environment (its bin/
# goes first on PATH).
set -eu

if [ -n "${PORTAL_VENV:-}" ]; then
    PATH="$PORTAL_VENV/bin:$PATH"
    export PATH
fi
if [ -n "${PORTAL_HOME:-}" ]; then
    cd "$PORTAL_HOME"
fi
# Python's own messages unbuffered, so journald and `podman logs` see them at once.
PYTHONUNBUFFERED=1
export PYTHONUNBUFFERED

command=${1:-web}
[ $# -gt 0 ] && shift

case "$command" in
    web)
        exec gunicorn -c python:app.serving "$@" wsgi:app
        ;;
    worker)
        exec flask --app wsgi worker "$@"
        ;;
    migrate)
        exec flask --app wsgi db upgrade "$@"
        ;;
    purge)
        exec flask --app wsgi purge "$@"
        ;;
    anchor)
        exec flask --app wsgi audit anchor "$@"
        ;;
    check)
        exec flask --app wsgi rules check "$@"
        ;;
    -h|--help|help)
        sed -n '2,17p' "$0"
        ;;
    *)
        exec flask --app wsgi "$command" "$@"
        ;;
esac
