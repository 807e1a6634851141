"""The Celery tasks. Each runs in the Flask app context (see ``celery_app``) and reads what it needs from it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import chord, group, shared_task
from flask import current_app

from riskmgr.accounts import view_cache
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.app import features
from riskmgr.app.runtime import current_runtime
from riskmgr.scanner.core import Scanner
from riskmgr.workers import locks

log = logging.getLogger(__name__)
POLL_LOCK = "job:poll"
# results are kept only where a chord needs them (the per-account polls); everything else reports through the
# database (runs, snapshots, alert records, the emergency sequence)


def redis_client() -> Any:
    import redis

    ext = current_app.extensions
    if "redis" not in ext:
        url = current_runtime().settings.redis_url
        if not url:
            raise RuntimeError("the workers need REDIS_URL")
        ext["redis"] = redis.Redis.from_url(url)
    return ext["redis"]


@shared_task(name="riskmgr.periodic", ignore_result=True)
def periodic(job_id: str) -> str:
    """Run background job ``job_id`` unless a run of it is still going (a Redis lock per job)."""
    from riskmgr.app.jobs import job_table

    table = {jid: (seconds, fn) for jid, seconds, fn in job_table(current_app._get_current_object())}  # type: ignore[attr-defined]  # LocalProxy method; current_app is typed as the app
    if job_id not in table:
        raise KeyError(f"no background job {job_id!r}; known: {', '.join(table)}")
    seconds, fn = table[job_id]
    client = redis_client()
    token = locks.acquire(client, f"job:{job_id}", ttl_seconds=max(6 * seconds, 120))
    if token is None:
        return f"{job_id}: skipped, the previous run is still going"
    if job_id == "poll":
        return start_poll(token)
    try:
        if job_id == "emergency-resume":
            emergency_resume()
        else:
            fn()
    finally:
        locks.release(client, f"job:{job_id}", token)
    return f"{job_id}: done"


def start_poll(token: str | None) -> str:
    """Fan the poll out, one task per account, then ``after_poll`` over the latest snapshots (it frees the lock)."""
    runtime = current_runtime()
    started = runtime.clock.now()
    names = list(runtime.accounts)
    chord(group(poll_account.s(name) for name in names))(after_poll.s(started.isoformat(), token))
    return f"poll: {len(names)} account(s) sent to the workers"


@shared_task(name="riskmgr.poll_account")
def poll_account(name: str) -> dict[str, str]:
    """Read one account and store its snapshot and equity point."""
    from riskmgr.accounts.monitor import poll_account as read_one

    snap = read_one(current_runtime(), name)
    return {"account": name, "status": snap.status.value}


@shared_task(name="riskmgr.after_poll", ignore_result=True)
def after_poll(results: list[dict[str, str]], started_iso: str, token: str | None) -> dict[str, Any]:
    """Run the poll hooks (risk engine, watchdog, alerts …) over the latest snapshots; rebuild the dashboard view."""
    from riskmgr.accounts.monitor import after_poll as finish

    runtime = current_runtime()
    try:
        snaps = finish(runtime, datetime.fromisoformat(started_iso), features.poll_hooks())
        view_cache.rebuild(runtime)
    finally:
        if token is not None:
            locks.release(redis_client(), POLL_LOCK, token)
    return {"accounts": [s.account for s in snaps], "read": results}


@shared_task(name="riskmgr.run_backtest", ignore_result=True)
def run_backtest(run_id: int) -> str:
    """Run backtest ``run_id`` (re-delivered after a worker died mid-run: it starts again from the stored settings)."""
    from riskmgr.backtest.runs import DONE, FAILED, RunStore, execute_run

    runtime = current_runtime()
    if RunStore(runtime).get(run_id).status in (DONE, FAILED):
        return f"backtest #{run_id}: already finished"
    execute_run(runtime, run_id)
    return f"backtest #{run_id}: {RunStore(runtime).get(run_id).status}"


@shared_task(name="riskmgr.scan_signals", ignore_result=True)
def scan_signals(auto_trade: bool = True) -> str:
    view = current_runtime().feature(Scanner).scan(trigger="worker", auto_trade=auto_trade)
    return f"scan: {len(view.get('signals', []))} signal(s)"


@shared_task(name="riskmgr.deliver_alert", ignore_result=True)
def deliver_alert(alert: dict[str, Any]) -> str:
    """Deliver one alert (toggles, the shared rate limit and the channels as on the in-process queue)."""
    from riskmgr.alerts.dispatch import Alert

    dispatcher = current_runtime().feature(AlertsFeature).dispatcher
    dispatcher.deliver(Alert(alert["kind"], alert["message"], datetime.fromisoformat(alert["ts"]),
                             alert.get("account"), int(alert.get("repeats", 0))))
    return f"alert {alert['kind']}: handled"


@shared_task(name="riskmgr.emergency_resume", ignore_result=True)
def emergency_resume() -> int | None:
    """Finish an emergency stop whose runner died (the instance that started it, or a worker)."""
    from riskmgr.risk.emergency.feature import service

    return service(current_runtime()).resume_unfinished(wait=True)
