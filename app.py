"""Entry point for the ``flask`` command (FLASK_APP=app)."""

from riskmgr import create_app

app = create_app()
