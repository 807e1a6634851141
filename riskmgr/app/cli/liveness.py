"""``flask poller status``: the poller's heartbeat; exit 1 when it is stopped or never ran."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from riskmgr.accounts.liveness import check
from riskmgr.app.runtime import current_runtime

poller_cli = AppGroup("poller", help="The poller's heartbeat.")


@poller_cli.command("status")
def poller_status() -> None:
    """Print the last poll cycle and whether the poller runs; exit non-zero when it is stopped or never ran."""
    beat = check(current_runtime())
    click.echo(f"{beat['state']}: {beat['message']}")
    if beat["state"] == "running":
        click.echo(f"cycle took {beat['duration_s']} s, {beat['accounts_ok']} account(s) read, "
                   f"{beat['accounts_failed']} failed")
        return
    raise click.ClickException(f"the poller is {beat['state']}")
