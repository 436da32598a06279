"""The WSGI entry point (gunicorn ``wsgi:app``): the one place that calls ``create_app()`` bare."""

from app import create_app

app = create_app()
