"""What every command shares: a refusal is one line of reason and exit code 1."""

from __future__ import annotations

from typing import NoReturn

import click


def fail(message: str) -> NoReturn:
    """Print a one-line reason and exit non-zero."""
    raise click.ClickException(message)
