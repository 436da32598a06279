"""Production gunicorn settings for ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

The settings live in ``app/serving.py`` so that an installed portal (the wheel,
the container) has them too: ``gunicorn -c python:app.serving wsgi:app`` is the
same thing, and is what ``deploy/entrypoint.sh web`` runs.
"""

from app.serving import *  # noqa: F403
from app.serving import child_exit, on_starting  # noqa: F401
