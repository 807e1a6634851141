"""The accounts riskmgr watches: paper accounts, live accounts declared in the environment, and their self-test.

Live accounts are declared as ``ACCOUNTS=main,hedge`` plus, per account, ``ACCOUNT_<NAME>_EXCHANGE``,
``_API_KEY``, ``_API_SECRET``, ``_PASSPHRASE`` (Bitget only), ``_BASE_URL`` and ``_DEMO``. ``<NAME>`` is the
account name in capitals with ``-`` written as ``_``. Secrets are held as ``Secret`` (masked in every repr)
and registered with the log filter the moment they are read; no error message ever quotes one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from riskmgr.core.clock import Clock
from riskmgr.core.domain import (
    AccountSnapshot,
    AccountStatus,
    MarketSpec,
    OrderRequest,
    OrderSide,
    OrderType,
    PositionSide,
)
from riskmgr.core.env import read_bool, read_choice, read_names
from riskmgr.core.errors import ConfigError, ExchangeError, ValidationError
from riskmgr.core.labels import sentence_time
from riskmgr.core.secrets import register_secret
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.exchanges.bitunix.auth import Secret
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.sizing import fmt_number, round_to_tick

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
EXCHANGES = ("bitunix", "bitget", "binanceusdm")
DEMO_EXCHANGES = ("bitget", "binanceusdm")  # Bitunix offers no demo trading through its API
_ENV_ROOT = "ACCOUNT"  # every account variable is ACCOUNT_<NAME>_<SUFFIX>
_SUFFIXES = ("EXCHANGE", "API_KEY", "API_SECRET", "PASSPHRASE", "BASE_URL", "DEMO")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class AccountConfig:
    """One live account declared in the environment (its secrets show as ``Secret('***')`` in any repr)."""

    name: str
    exchange: str
    api_key: Secret
    api_secret: Secret
    passphrase: Secret | None = None
    base_url: str | None = None
    demo: bool = False

    @property
    def mode(self) -> str:
        """Return "demo" for a demo-trading account, else "live"."""
        return "demo" if self.demo else "live"


def env_prefix(name: str) -> str:
    """Return the variable prefix of an account, e.g. ``ACCOUNT_MY_HEDGE_`` for ``my-hedge``."""
    return f"{_ENV_ROOT}_{name.upper().replace('-', '_')}_"


def parse_accounts(env: Mapping[str, str]) -> tuple[AccountConfig, ...]:
    """Read and validate the live accounts declared in the environment; raise ConfigError naming the variable."""
    names = read_names(env, "ACCOUNTS", "")
    prefixes: dict[str, str] = {}
    for name in names:
        prefix = env_prefix(name)
        if prefix in prefixes:
            raise ConfigError(f"ACCOUNTS names {prefixes[prefix]!r} and {name!r}, which both read {prefix}* variables")
        prefixes[prefix] = name
    paper = {n.lower(): n for n in read_names(env, "PAPER_ACCOUNTS", "paper")}
    for name in names:
        if name.lower() in paper:
            raise ConfigError(f"ACCOUNTS and PAPER_ACCOUNTS both name the account {name!r}; give each a unique name")
    _refuse_strays(env, prefixes)
    return tuple(_account(env, name, env_prefix(name)) for name in names)


def _refuse_strays(env: Mapping[str, str], prefixes: Mapping[str, str]) -> None:
    """Refuse ACCOUNT_* variables no declared account reads: a misspelt one would leave an account unwatched."""
    known = {prefix + suffix for prefix in prefixes for suffix in _SUFFIXES}
    for key in sorted(env):
        if key.startswith(f"{_ENV_ROOT}_") and key not in known:
            declared = ", ".join(prefixes.values()) or "none"
            raise ConfigError(
                f"{key} is not read: ACCOUNTS declares {declared}; per account the variables are "
                f"ACCOUNT_<NAME>_{{{','.join(_SUFFIXES)}}}"
            )


def _account(env: Mapping[str, str], name: str, prefix: str) -> AccountConfig:
    exchange = read_choice(env, prefix + "EXCHANGE", "", EXCHANGES)
    if not exchange:
        raise ConfigError(f"{prefix}EXCHANGE is required for account {name!r}; choose one of {', '.join(EXCHANGES)}")
    passphrase = _secret(env, prefix + "PASSPHRASE", required=exchange == "bitget")
    if passphrase is not None and exchange != "bitget":
        raise ConfigError(f"{prefix}PASSPHRASE is set, but only Bitget accounts use a passphrase (this is {exchange})")
    demo = read_bool(env, prefix + "DEMO", False)
    if demo and exchange not in DEMO_EXCHANGES:
        raise ConfigError(f"{prefix}DEMO=true: {exchange} has no demo trading; allowed for {', '.join(DEMO_EXCHANGES)}")
    return AccountConfig(
        name=name,
        exchange=exchange,
        api_key=_secret(env, prefix + "API_KEY", required=True),  # type: ignore[arg-type]  # required=True: _secret never returns None
        api_secret=_secret(env, prefix + "API_SECRET", required=True),  # type: ignore[arg-type]  # required=True: _secret never returns None
        passphrase=passphrase,
        base_url=_base_url(env, prefix + "BASE_URL"),
        demo=demo,
    )


def _secret(env: Mapping[str, str], key: str, *, required: bool) -> Secret | None:
    """Read a credential; every message names the variable and never shows the value."""
    raw = (env.get(key) or "").strip()
    if not raw:
        if required:
            raise ConfigError(f"{key} is required (the value is never shown)")
        return None
    if any(ch.isspace() for ch in raw):
        raise ConfigError(f"{key} contains whitespace, which no exchange credential has (the value is not shown)")
    register_secret(raw)
    return Secret(raw)


def _base_url(env: Mapping[str, str], key: str) -> str | None:
    """Read an optional API host: https (http only for a local mock), no credentials, query or fragment."""
    raw = (env.get(key) or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if "@" in parts.netloc:
        raise ConfigError(f"{key} must not carry credentials in the URL (the value is not shown)")
    local = (parts.hostname or "") in _LOCAL_HOSTS
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local) or not parts.hostname:
        raise ConfigError(f"{key}={raw!r} must be an https:// URL such as https://demo-fapi.binance.com")
    if parts.query or parts.fragment:
        raise ConfigError(f"{key}={raw!r} must not have a query or fragment")
    return raw.rstrip("/")


def build_adapters(settings: Any, engine: Any, market: Any, clock: Clock) -> dict[str, ExchangeAdapter]:
    """Build one adapter per configured account: the paper accounts first, then the live ones."""
    from riskmgr.exchanges.paper.exchange import PaperExchange

    adapters: dict[str, ExchangeAdapter] = {
        name: PaperExchange(
            name,
            engine,
            market,
            clock,
            start_balance=settings.paper_start_balance,
            taker_fee=settings.paper_taker_fee,
            maker_fee=settings.paper_maker_fee,
            slippage_bps=settings.paper_slippage_bps,
            funding_rate=settings.paper_funding_pct_8h / 100,
        )
        for name in settings.paper_accounts
    }
    for config in settings.live_accounts:
        if config.name in adapters:
            raise ConfigError(f"account {config.name!r} is declared twice (ACCOUNTS and PAPER_ACCOUNTS)")
        adapters[config.name] = live_adapter(config, timeout_s=settings.fetch_timeout_seconds, clock=clock)
    return adapters


def live_adapter(config: AccountConfig, *, timeout_s: float, clock: Clock) -> ExchangeAdapter:
    """Build the adapter of one live account (no network call: markets load on first use)."""
    for held in (config.api_key, config.api_secret, config.passphrase):
        if held is not None:
            register_secret(held.reveal())
    key, secret = config.api_key.reveal(), config.api_secret.reveal()
    if config.exchange == "bitunix":
        from riskmgr.exchanges.bitunix.adapter import BitunixAdapter
        from riskmgr.exchanges.bitunix.client import BitunixClient
        from riskmgr.exchanges.bitunix.constants import BASE_URL

        client = BitunixClient(key, secret, base_url=config.base_url or BASE_URL, timeout=timeout_s, clock=clock,
                               account=config.name)
        return BitunixAdapter(config.name, client, clock=clock)
    if config.exchange == "bitget":
        from riskmgr.exchanges.ccxt.bitget import BitgetAdapter

        passphrase = config.passphrase.reveal() if config.passphrase else ""
        return BitgetAdapter(config.name, key, secret, passphrase, base_url=config.base_url, timeout_s=timeout_s,
                             demo=config.demo, clock=clock)
    if config.exchange == "binanceusdm":
        from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter

        return BinanceUsdmAdapter(config.name, key, secret, base_url=config.base_url, timeout_s=timeout_s,
                                  demo=config.demo, clock=clock)
    raise ConfigError(f"account {config.name!r}: unknown exchange {config.exchange!r}")


# -- the capability self-test --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelfTestStep:
    name: str
    ok: bool
    detail: str
    ms: int


@dataclass
class SelfTestReport:
    """What one self-test did, step by step, and anything it could not clean up."""

    account: str
    exchange: str
    mode: str
    symbol: str
    started_at: datetime
    finished_at: datetime | None = None
    steps: list[SelfTestStep] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps) and not self.left_behind

    def as_dict(self) -> dict[str, Any]:
        """Return the report JSON-safe."""
        return {
            "account": self.account, "exchange": self.exchange, "mode": self.mode, "symbol": self.symbol,
            "ok": self.ok, "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail, "ms": s.ms} for s in self.steps],
            "left_behind": list(self.left_behind),
        }


class _StepFailed(Exception):
    """Ends the self-test after a failed step (the step itself is already recorded)."""


def smallest_qty(min_qty: Decimal, step: Decimal, min_notional: Decimal, price: Decimal) -> Decimal:
    """Return the smallest quantity on the step that meets both the minimum quantity and the minimum notional."""

    def up(value: Decimal) -> Decimal:
        return (value / step).to_integral_value(rounding=ROUND_CEILING) * step

    return max(up(min_qty), up(min_notional / price))


def selftest_levels(price: Decimal, spec: MarketSpec, limits: RiskLimits) -> tuple[Decimal, Decimal]:
    """Return the test buy's stop and target: the default stop, and twice the least target reward:risk allows."""
    # twice the least target: fees and slippage, which the reward:risk rule counts, never bring it under the minimum
    target_pct = 2 * max(limits.default_target_pct, limits.default_stop_pct * limits.min_reward_risk)
    stop = round_to_tick(price * (1 - limits.default_stop_pct / 100), spec.price_tick, up=False)
    target = round_to_tick(price * (1 + target_pct / 100), spec.price_tick, up=True)
    return stop, target


def _read_within(snapshot: AccountSnapshot | None, now: datetime, seconds: float) -> bool:
    if snapshot is None or snapshot.status is not AccountStatus.OK or snapshot.fetched_at is None:
        return False
    return timedelta(0) <= now - snapshot.fetched_at <= timedelta(seconds=seconds)


def _age(snapshot: AccountSnapshot | None, now: datetime) -> str:
    if snapshot is None or snapshot.fetched_at is None:
        return "?"
    return f"{(now - snapshot.fetched_at).total_seconds():g}"


def run_selftest(
    runtime: Runtime, account: str, *, actor: str, symbol: str, distance_pct: Decimal
) -> SelfTestReport:
    """Place a far-away limit order of the smallest size through the gate, read it back, cancel it, report each step.

    The order goes through the real risk rules, so it is a complete entry: a buy limit ``distance_pct`` below the
    mark with a leverage within the limits, a stop-loss and a take-profit the rules accept (placed on a fill by the
    venue, or by the watchdog where it cannot attach them; the order never fills). The rules judge on the account's
    last poll, so a missing or ageing one is refreshed
    first by a full poll cycle. Whatever happens, the order is cancelled before the test returns, or named in
    ``left_behind``.
    """
    if account not in runtime.accounts:
        known = ", ".join(runtime.accounts)
        raise ValidationError("account", f"{account!r} is not a configured account; one of {known}")
    reader = runtime.accounts[account]
    report = SelfTestReport(account, reader.exchange, reader.mode, symbol, runtime.clock.now())
    test = _SelfTest(runtime, account, actor, report)
    try:
        test.run(symbol, distance_pct)
    except _StepFailed:
        log.warning("self-test of %s stopped at step %r", account, report.steps[-1].name)
    finally:
        test.clean_up(symbol)
        report.finished_at = runtime.clock.now()
        verdict = "passed" if report.ok else "FAILED"
        steps = "; ".join(f"{s.name}: {'ok' if s.ok else 'FAILED'}" for s in report.steps)
        runtime.audit.record(f"selftest.{'passed' if report.ok else 'failed'}", actor,
                             f"self-test {verdict} on {symbol}: {steps}", account=account, data=report.as_dict())
    return report


class _SelfTest:
    def __init__(self, runtime: Runtime, account: str, actor: str, report: SelfTestReport):
        self.runtime, self.account, self.actor, self.report = runtime, account, actor, report
        self.reader = runtime.accounts[account]
        self.order_id: str | None = None
        self.seen_open = False
        self.gone = False

    def _step(self, name: str, action: Callable[[], tuple[bool, str]]) -> None:
        started = time.perf_counter()
        try:
            ok, detail = action()
        except (ExchangeError, ValidationError) as exc:
            ok, detail = False, exc.describe() if isinstance(exc, ExchangeError) else str(exc)
        self.report.steps.append(SelfTestStep(name, ok, detail, round((time.perf_counter() - started) * 1000)))
        if not ok:
            raise _StepFailed(name)

    def run(self, symbol: str, distance_pct: Decimal) -> None:
        box: dict[str, Any] = {}  # what one step learns for the next

        def read_spec() -> tuple[bool, str]:
            s = box["spec"] = self.runtime.gateway.spec(self.account, symbol)
            return True, f"min qty {s.min_qty}, step {s.qty_step}, tick {s.price_tick}, min notional {s.min_notional}"

        def read_mark() -> tuple[bool, str]:
            ticker = self.reader.fetch_tickers().get(symbol)
            if ticker is None:
                return False, f"the exchange published no price for {symbol}"
            box["mark"] = ticker.mark
            return True, f"mark {ticker.mark} at {sentence_time(ticker.timestamp)}"

        self._step("account read", self._fresh_read)
        self._step("contract spec", read_spec)
        self._step("market price", read_mark)
        self._step("place order", lambda: self._place(box["spec"], box["mark"], symbol, distance_pct))
        self._step("read back", lambda: self._read_back(present=True))
        self._step("cancel", self._cancel)
        self._step("confirm cancelled", lambda: self._read_back(present=False))

    def _fresh_read(self) -> tuple[bool, str]:
        """Poll when the account's last read is missing, failed or past half the staleness limit."""
        now, limit = self.runtime.clock.now(), self.runtime.limits().stale_after_seconds
        last = self.runtime.snapshots.latest().get(self.account)
        if _read_within(last, now, limit / 2):
            return True, f"last read {_age(last, now)} s ago (limit {limit} s)"
        # imported here: the monitor imports the runtime, which imports this module
        from riskmgr.accounts.monitor import poll_cycle

        # a whole poll cycle, hooks included, as the scheduler runs it: nothing it watches misses this read
        fresh = {s.account: s for s in poll_cycle(self.runtime, self.runtime.poll_hooks)}.get(self.account)
        if fresh is None:
            return False, "the poll returned no snapshot of the account"
        if not _read_within(fresh, self.runtime.clock.now(), limit):
            return False, f"the account could not be read: {fresh.error or fresh.status.value}"
        return True, f"polled now: status {fresh.status.value}"

    def _place(self, spec: MarketSpec, mark: Decimal, symbol: str, distance_pct: Decimal) -> tuple[bool, str]:
        limits = self.runtime.limits()
        price = round_to_tick(mark * (1 - distance_pct / 100), spec.price_tick, up=False)
        floor = max(spec.min_notional, limits.min_notional_floor)
        qty = smallest_qty(spec.min_qty, spec.qty_step, floor, price)
        stop, target = selftest_levels(price, spec, limits)
        leverage = self._leverage(spec, symbol, limits)
        request = OrderRequest(symbol, OrderSide.BUY, OrderType.LIMIT, qty, price=price, leverage=leverage,
                               stop_loss=stop, take_profit=target)
        result = self.runtime.gateway.submit(self.account, request, actor=self.actor,
                                             intent_id=f"selftest:{uuid.uuid4().hex}", purpose="selftest")
        if not result.accepted or result.order is None:
            return False, f"not placed: {result.message}"
        self.order_id = result.order.id
        setting = f"{leverage}x" if leverage is not None else "the open position's leverage"
        return True, (f"buy {qty} {symbol} limit {price} ({distance_pct} % below the mark {mark}) at {setting}, "
                      f"stop {stop}, target {target}: order {self.order_id}")

    def _leverage(self, spec: MarketSpec, symbol: str, limits: RiskLimits) -> int | None:
        """Return the test order's leverage: None (the rules take the position's) when a long on it is open."""
        last = self.runtime.snapshots.latest().get(self.account)
        if last is not None and any(p.symbol == symbol and p.side is PositionSide.LONG for p in last.positions):
            # setting a leverage would change the open position's: leave the venue's setting alone
            return None
        return max(1, min(limits.max_leverage, spec.max_leverage))

    def _read_back(self, *, present: bool) -> tuple[bool, str]:
        found = next((o for o in self.reader.fetch_open_orders() if o.id == self.order_id), None)
        if not present:
            self.gone = found is None
            return self.gone, "no longer open" if self.gone else f"order {self.order_id} is still open"
        if found is None:
            return False, f"order {self.order_id} is not among the open orders (filled or dropped by the venue?)"
        self.seen_open = True
        qty, price = (fmt_number(v) if v is not None else "?" for v in (found.qty, found.price))
        return True, f"open: {found.side.value} {qty} @ {price}, status {found.status.value}"

    def _cancel(self) -> tuple[bool, str]:
        self.runtime.gateway.cancel(self.account, self.report.symbol, str(self.order_id), actor=self.actor)
        return True, f"order {self.order_id} cancelled"

    def clean_up(self, symbol: str) -> None:
        """Make sure the test order is gone; name it in ``left_behind`` when it cannot be removed."""
        if self.order_id is None or self.gone:
            return
        try:
            if any(o.id == self.order_id for o in self.reader.fetch_open_orders()):
                self.runtime.gateway.cancel(self.account, symbol, self.order_id, actor=self.actor)
                self.gone = not any(o.id == self.order_id for o in self.reader.fetch_open_orders())
            else:
                self.gone = True
        except ExchangeError as exc:
            log.error("self-test on %s could not remove order %s: %s", self.account, self.order_id, exc.describe())
        if not self.gone:
            self.report.left_behind.append(f"order {self.order_id} on {symbol} is still open: cancel it by hand")
        elif not self.seen_open:
            self.report.left_behind.append(
                f"order {self.order_id} on {symbol} was accepted but never seen open: if it filled, a position is "
                "open — check the account"
            )
