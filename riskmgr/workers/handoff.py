"""Where the app hands work to the Celery workers when REDIS_URL is set: backtests and alert delivery."""

from __future__ import annotations

from typing import Any

from riskmgr.alerts.feature import AlertsFeature
from riskmgr.app.runtime import Runtime
from riskmgr.backtest.service import BacktestService


def hand_off(runtime: Runtime) -> None:
    """Point the backtest service and the alert dispatcher at the workers' tasks."""
    from riskmgr.workers import tasks

    backtests = runtime.optional_feature(BacktestService)
    if backtests is not None:
        backtests.remote = lambda run_id: tasks.run_backtest.delay(run_id)
    alerts = runtime.optional_feature(AlertsFeature)
    if alerts is not None:
        alerts.dispatcher.remote = _alert_sender(tasks)


def _alert_sender(tasks: Any) -> Any:
    def send(alert: Any) -> None:
        tasks.deliver_alert.delay({"kind": alert.kind, "message": alert.message, "ts": alert.ts.isoformat(),
                                   "account": alert.account, "repeats": alert.repeats})

    return send
