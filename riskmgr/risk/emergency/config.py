"""Settings of the emergency stop and of its automatic triggers (read once from the environment).

The triggers that RiskLimits already carries (``auto_emergency_on_drawdown``, ``auto_emergency_on_daily_loss``)
stay there; the ones below are this feature's own. Every value is validated with an error naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from riskmgr.core.env import read_bool, read_decimal, read_int

NAME = "emergency"  # the feature's name: its settings are ``runtime.settings.feature(NAME)``


@dataclass(frozen=True)
class EmergencySettings:
    """How the sequence runs and which optional automatic triggers are on."""

    max_workers: int = 32  # threads closing positions at once, over all accounts
    max_rounds: int = 8  # close-and-re-read rounds before what is left is reported as left open
    backoff_seconds: Decimal = Decimal("0.25")  # first wait before a retry; doubles each round, capped at 5 s
    budget_seconds: int = 120  # the close-and-verify phase gives up after this long
    call_timeout_seconds: int = 15  # one exchange call counts as failed (and is retried) after this long
    lease_seconds: int = 20  # a running sequence whose runner stopped beating this long is taken over
    on_consecutive_losses: bool = False  # run it when the losing streak reaches RiskLimits.max_consecutive_losses
    failed_polls: int = 0  # run it after this many failed polls of an account in a row (0: off)
    stale_seconds: int = 0  # run it when an account's last good read is older than this (0: off)
    on_critical_unprotected: bool = True  # run it when a CRITICAL position has no working stop-loss

    @property
    def backoff(self) -> float:
        return float(self.backoff_seconds)


def settings_from_env(env: Mapping[str, str]) -> EmergencySettings:
    """Read and validate the EMERGENCY_* variables (defaults for what is unset)."""
    return EmergencySettings(
        max_workers=read_int(env, "EMERGENCY_MAX_WORKERS", 32, 1, 128),
        max_rounds=read_int(env, "EMERGENCY_MAX_ROUNDS", 8, 1, 50),
        backoff_seconds=read_decimal(env, "EMERGENCY_BACKOFF_SECONDS", "0.25", "0.01", "10"),
        budget_seconds=read_int(env, "EMERGENCY_BUDGET_SECONDS", 120, 5, 3600),
        call_timeout_seconds=read_int(env, "EMERGENCY_CALL_TIMEOUT_SECONDS", 15, 1, 120),
        lease_seconds=read_int(env, "EMERGENCY_LEASE_SECONDS", 20, 5, 600),
        on_consecutive_losses=read_bool(env, "EMERGENCY_ON_CONSECUTIVE_LOSSES", False),
        failed_polls=read_int(env, "EMERGENCY_FAILED_POLLS", 0, 0, 1000),
        stale_seconds=read_int(env, "EMERGENCY_STALE_SECONDS", 0, 0, 86400),
        on_critical_unprotected=read_bool(env, "EMERGENCY_ON_CRITICAL_UNPROTECTED", True),
    )
