"""The daily layer of the simulated market: one close, volatility, jump and turnover per symbol per UTC day.

Days are numbered from the anchor date (day 0 = 2024-01-01 UTC) and generated forward in blocks of
``BLOCK_DAYS``; each block draws from its own random stream keyed by (seed, symbol, block), and the state at
the end of a block (log price, log volatility, trend, pending volatility kick) carries into the next. So the
values of day ``d`` depend only on the seed and the symbol, never on which day was asked for first.

A market-wide factor (its own stream) is shared by every symbol: part of each symbol's daily shock, part of its
log volatility, its trend regime and its jumps come from the market, so symbols move together as crypto does.
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from riskmgr.market.sim.specs import SimSymbol

ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)
ANCHOR_S = int(ANCHOR.timestamp())
DAY_S = 86400
BLOCK_DAYS = 256
MAX_DAYS = 36525  # a century of simulated history is plenty; beyond that a time is surely a mistake

STREAM_MARKET = 1
STREAM_SYMBOL = 2
STREAM_MINUTES = 3
STREAM_TICKS = 4

PHI = 0.95  # day-to-day persistence of log volatility
H_SD = 0.45  # stationary standard deviation of log volatility
ETA_SD = H_SD * math.sqrt(1 - PHI * PHI)
MARKET_VOL_SHARE = 0.6  # share of a symbol's log-volatility variance that is market-wide
VOL_FLOOR, VOL_CAP = 0.3, 3.5  # daily volatility kept within these multiples of the typical one
P_JUMP_MARKET = 0.012  # a market-wide shock about every 80 days
P_JUMP_SYMBOL = 0.010  # and one of the symbol's own about every 100 days
JUMP_BASE, JUMP_SCALE = 1.5, 1.2  # jump size in typical daily vols: base + exponential
P_DOWN_MARKET = 0.6  # market shocks are more often crashes than squeezes
JUMP_KICK = 0.35  # log-volatility added the day after a jump, so calm returns only gradually
P_REGIME = 1 / 18  # trend regimes last about two and a half weeks on average
MARKET_DRIFT_SD = 0.15  # market trend per day, in typical daily vols
SYMBOL_DRIFT_SD = 0.08
REVERSION = 1 / 100  # weak pull of the log price towards its start level keeps prices realistic


def rng_for(seed: int, key: int, stream: int, index: int) -> np.random.Generator:
    """Return the random stream for one (seed, symbol key, stream kind, index) — the only source of randomness."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key, stream, index])))


def symbol_key(symbol: str) -> int:
    """Return a stable integer for a symbol (Python's hash() changes between processes)."""
    return zlib.crc32(symbol.encode("utf-8"))


@dataclass(frozen=True)
class _MarketBlock:
    log_vol: np.ndarray
    drift: np.ndarray  # trend in typical daily vols per day
    shock: np.ndarray  # standard normal
    jump: np.ndarray  # signed size in typical daily vols, 0 on days without
    jump_minute: np.ndarray  # minute of day of the jump, -1 on days without


@dataclass(frozen=True)
class DailyPath:
    """Daily values of one symbol; index 0 is the anchor date. Log prices are natural logs of USDT prices."""

    open_log: np.ndarray
    close_log: np.ndarray
    sigma: np.ndarray  # volatility of the day's diffusion (log units)
    jump: np.ndarray  # log jump inside the day, 0 if none
    jump_minute: np.ndarray  # minute of day of the jump, -1 if none
    quote_volume: np.ndarray  # USDT turnover of the day

    def __len__(self) -> int:
        return int(self.close_log.shape[0])


def _jumps(rng: np.random.Generator, prob: float, p_down: float) -> tuple[np.ndarray, np.ndarray]:
    happens = rng.random(BLOCK_DAYS) < prob
    size = JUMP_BASE + JUMP_SCALE * rng.standard_exponential(BLOCK_DAYS)
    sign = np.where(rng.random(BLOCK_DAYS) < p_down, -1.0, 1.0)
    minute = rng.integers(0, 1440, BLOCK_DAYS)
    return np.where(happens, sign * size, 0.0), np.where(happens, minute, -1)


def _regime_and_vol(
    rng: np.random.Generator, jump: np.ndarray, drift_sd: float, state: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Run the log-volatility AR(1) and the trend regime through one block (a loop per day, not per minute)."""
    eta = rng.standard_normal(BLOCK_DAYS).tolist()
    switch = (rng.random(BLOCK_DAYS) < P_REGIME).tolist()
    new_drift = (drift_sd * rng.standard_normal(BLOCK_DAYS)).tolist()
    jumped = (jump != 0).tolist()
    log_vol, kick, drift = state
    vols, drifts = [0.0] * BLOCK_DAYS, [0.0] * BLOCK_DAYS
    for i in range(BLOCK_DAYS):
        if switch[i]:
            drift = new_drift[i]
        log_vol = PHI * log_vol + ETA_SD * eta[i] + kick
        kick = JUMP_KICK if jumped[i] else 0.0
        vols[i], drifts[i] = log_vol, drift
    return np.array(vols), np.array(drifts), (log_vol, kick, drift)


def _market_block(
    seed: int, block: int, state: tuple[float, float, float]
) -> tuple[_MarketBlock, tuple[float, float, float]]:
    rng = rng_for(seed, 0, STREAM_MARKET, block)
    shock = rng.standard_normal(BLOCK_DAYS)
    jump, minute = _jumps(rng, P_JUMP_MARKET, P_DOWN_MARKET)
    log_vol, drift, state = _regime_and_vol(rng, jump, MARKET_DRIFT_SD, state)
    return _MarketBlock(log_vol, drift, shock, jump, minute), state


def _symbol_block(
    seed: int, sim: SimSymbol, block: int, mkt: _MarketBlock, state: tuple[float, float, float, float]
) -> tuple[dict[str, np.ndarray], tuple[float, float, float, float]]:
    rng = rng_for(seed, symbol_key(sim.spec.symbol), STREAM_SYMBOL, block)
    own_shock = rng.standard_normal(BLOCK_DAYS)
    own_jump, own_minute = _jumps(rng, P_JUMP_SYMBOL, 0.5)
    x, *held = state
    own_vol, own_drift, vol_state = _regime_and_vol(rng, own_jump, SYMBOL_DRIFT_SD, (held[0], held[1], held[2]))
    noise = rng.standard_normal(BLOCK_DAYS)
    s0, rho = sim.daily_vol, sim.market_corr
    log_vol = math.sqrt(MARKET_VOL_SHARE) * mkt.log_vol + math.sqrt(1 - MARKET_VOL_SHARE) * own_vol
    # exp(h - H_SD²) has mean square 1, so s0 stays the typical daily volatility
    sigma = s0 * np.clip(np.exp(log_vol - H_SD * H_SD), VOL_FLOOR, VOL_CAP)
    shock = rho * mkt.shock + math.sqrt(1 - rho * rho) * own_shock
    jump = s0 * (rho * mkt.jump + own_jump)
    minute = np.where(mkt.jump != 0, mkt.jump_minute, own_minute)
    step = (s0 * (rho * mkt.drift + own_drift) + sigma * shock + jump).tolist()
    ref = math.log(sim.start_price)
    closes = [0.0] * BLOCK_DAYS
    for i in range(BLOCK_DAYS):
        x = x + step[i] - REVERSION * (x - ref)
        closes[i] = x
    close = np.array(closes)
    move = np.abs(np.diff(close, prepend=state[0])) / s0
    # turnover rises with the volatility regime and with the size of the day's move
    quote_volume = sim.quote_volume * np.exp(0.5 * log_vol + 0.3 * noise - 0.2) * (0.6 + 0.5 * move)
    out: dict[str, np.ndarray] = {"close_log": close, "sigma": sigma, "jump": jump, "jump_minute": minute,
                                  "quote_volume": quote_volume}
    return out, (x, *vol_state)


class DailyModel:
    """Generates and keeps the daily layer of every symbol for one seed; thread-safe."""

    def __init__(self, seed: int):
        self._seed = seed
        self._lock = threading.Lock()
        self._market: list[_MarketBlock] = []
        self._market_state: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._blocks: dict[str, list[dict[str, np.ndarray]]] = {}
        self._states: dict[str, tuple[float, float, float, float]] = {}
        self._paths: dict[str, DailyPath] = {}

    def path(self, sim: SimSymbol, last_day: int) -> DailyPath:
        """Return the daily path of a symbol covering at least days 0..last_day."""
        if not 0 <= last_day < MAX_DAYS:
            raise ValueError(f"day {last_day} is outside the simulated range 0..{MAX_DAYS - 1}")
        symbol = sim.spec.symbol
        with self._lock:
            cached = self._paths.get(symbol)
            if cached is not None and len(cached) > last_day:
                return cached
            blocks = self._blocks.setdefault(symbol, [])
            state = self._states.get(symbol, (math.log(sim.start_price), 0.0, 0.0, 0.0))
            while len(blocks) * BLOCK_DAYS <= last_day:
                index = len(blocks)
                block, state = _symbol_block(self._seed, sim, index, self._market_block(index), state)
                blocks.append(block)
            self._states[symbol] = state
            path = self._concat(sim, blocks)
            self._paths[symbol] = path
            return path

    def _market_block(self, index: int) -> _MarketBlock:
        while len(self._market) <= index:
            block, self._market_state = _market_block(self._seed, len(self._market), self._market_state)
            self._market.append(block)
        return self._market[index]

    @staticmethod
    def _concat(sim: SimSymbol, blocks: list[dict[str, np.ndarray]]) -> DailyPath:
        cols = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
        opens = np.concatenate(([math.log(sim.start_price)], cols["close_log"][:-1]))
        for arr in (*cols.values(), opens):
            arr.flags.writeable = False
        return DailyPath(open_log=opens, **cols)
