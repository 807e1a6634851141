"""The simulated market's symbol table: contract specs and the parameters of each symbol's price model.

Contract specs follow what Binance USDⓈ-M listed for these perpetuals in 2024-2025 (lot step, tick size, first
leverage tier and its maintenance margin rate), except that the minimum notional is 5 USDT for every symbol.
Model parameters are round figures of the same period: the price on 2024-01-01 (also the level prices drift
back towards), the typical daily volatility, the typical daily quote volume and how strongly the symbol
follows the market as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from riskmgr.core.domain import MarketSpec

MIN_NOTIONAL = Decimal(5)


@dataclass(frozen=True)
class SimSymbol:
    """One simulated perpetual: its contract spec and the parameters of its price model."""

    spec: MarketSpec
    start_price: float  # price at the anchor date and the level the price reverts towards
    daily_vol: float  # daily diffusion volatility in an average regime (realized, with jumps, ~1.2x)
    quote_volume: float  # typical daily turnover in USDT
    market_corr: float  # correlation of the daily shock with the market-wide shock, 0..1

    @property
    def price_decimals(self) -> int:
        """Return how many decimals the price tick has (ticks are powers of ten)."""
        exponent = self.spec.price_tick.normalize().as_tuple().exponent
        if not isinstance(exponent, int):  # NaN or infinity has no decimals
            raise ValueError(f"{self.spec.symbol}: the price tick {self.spec.price_tick} is not a finite number")
        return max(0, -exponent)


def _sym(
    base: str, step: str, tick: str, lev: int, mmr: str, price: float, vol: float, turnover: float, corr: float
) -> SimSymbol:
    spec = MarketSpec(
        symbol=f"{base}/USDT:USDT",
        base=base,
        quote="USDT",
        min_qty=Decimal(step),
        qty_step=Decimal(step),
        price_tick=Decimal(tick),
        min_notional=MIN_NOTIONAL,
        max_leverage=lev,
        maintenance_margin_rate=Decimal(mmr),
    )
    return SimSymbol(spec, price, vol, turnover, corr)


# base, qty step, price tick, max leverage, maint. margin rate, start price, daily vol, USDT/day, market corr
SIM_SYMBOLS: tuple[SimSymbol, ...] = (
    _sym("BTC", "0.001", "0.1", 125, "0.004", 42300.0, 0.021, 15e9, 0.95),
    _sym("ETH", "0.001", "0.01", 125, "0.004", 2280.0, 0.026, 9e9, 0.85),
    _sym("SOL", "1", "0.01", 100, "0.005", 101.0, 0.036, 2.5e9, 0.75),
    _sym("BNB", "0.01", "0.01", 75, "0.005", 312.0, 0.024, 6e8, 0.75),
    _sym("XRP", "0.1", "0.0001", 75, "0.005", 0.615, 0.033, 1.5e9, 0.70),
    _sym("DOGE", "1", "0.00001", 75, "0.005", 0.0895, 0.041, 1.2e9, 0.70),
    _sym("ADA", "1", "0.0001", 75, "0.005", 0.594, 0.035, 4e8, 0.75),
    _sym("AVAX", "1", "0.001", 75, "0.005", 38.5, 0.039, 4e8, 0.75),
    _sym("LINK", "0.01", "0.001", 75, "0.005", 15.0, 0.036, 3.5e8, 0.75),
    _sym("DOT", "0.1", "0.001", 75, "0.005", 8.25, 0.034, 2e8, 0.75),
    _sym("LTC", "0.001", "0.01", 75, "0.005", 72.5, 0.029, 3e8, 0.75),
    _sym("TRX", "1", "0.00001", 75, "0.005", 0.108, 0.020, 1.5e8, 0.50),
    _sym("BCH", "0.001", "0.01", 75, "0.005", 255.0, 0.033, 3e8, 0.70),
    _sym("NEAR", "1", "0.001", 50, "0.01", 3.55, 0.041, 2.5e8, 0.70),
    _sym("APT", "0.1", "0.0001", 50, "0.01", 9.40, 0.042, 2e8, 0.70),
    _sym("ARB", "0.1", "0.0001", 50, "0.01", 1.62, 0.042, 2.5e8, 0.70),
    _sym("OP", "0.1", "0.0001", 50, "0.01", 3.55, 0.043, 2e8, 0.70),
    _sym("SUI", "0.1", "0.0001", 50, "0.01", 0.81, 0.045, 6e8, 0.65),
    _sym("ATOM", "0.01", "0.001", 50, "0.01", 10.6, 0.035, 1.5e8, 0.70),
    _sym("FIL", "0.1", "0.001", 50, "0.01", 5.90, 0.038, 2e8, 0.70),
)

SIM_BY_SYMBOL: dict[str, SimSymbol] = {s.spec.symbol: s for s in SIM_SYMBOLS}
