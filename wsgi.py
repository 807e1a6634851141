"""Entry point for gunicorn (``gunicorn wsgi:app``)."""

from riskmgr import create_app

app = create_app()
