"""What a round trip costs: taker fees and slippage, per unit of an entry stopped at its stop.

Sizing, the minimum stop distance and the receipt read one ``TradingCosts`` per account and symbol, so a trade
stopped at its stop loses at most the risk budget including what the venue takes. Where each figure comes from
is kept with it: the paper venue's own settings, the venue's published taker fee (ccxt markets), or an estimate
from the risk limits (clearly labelled) where the venue does not say.

Per unit, for entry E and stop S (both fills are taker fills: a market entry and a stop-market exit):

* price move: ``|E - S|``;
* slippage: ``(E + S) * slippage_rate``, plus one price tick per fill when fills are rounded to the tick
  against the taker (the paper venue and the backtester round a slipped price that way);
* fees: ``(E + S + slippage) * taker_fee_rate`` (the fee is charged on the slipped fill prices).

This bounds the paper venue's real fills from above (a gap through the stop is not covered: no stop can).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from riskmgr.core.domain import ZERO, MarketSpec, Position, PositionSide
from riskmgr.core.errors import MalformedResponseError, ValidationError
from riskmgr.risk.config import RiskLimits

HUNDRED = Decimal(100)
BPS = Decimal(10000)
PAPER_SOURCE = "paper venue setting"
ESTIMATE_FEE_SOURCE = "estimate RISK_TAKER_FEE_ESTIMATE_PCT setting"
ESTIMATE_SLIPPAGE_SOURCE = "estimate RISK_SLIPPAGE_ESTIMATE_PCT setting"


class CostSource(Protocol):
    """What an account adapter (or its reader) tells about its own costs; None where it does not know."""

    exchange: str
    mode: str

    def taker_fee_rate(self, symbol: str) -> Decimal | None: ...

    def slippage_rate(self, symbol: str) -> Decimal | None: ...


@dataclass(frozen=True)
class TradingCosts:
    """Taker fee and slippage per fill (fractions: 0.0005 = 0.05 %) and where each figure came from.

    ``price_tick`` is the tick a slipped fill is rounded to against the taker (ZERO: fills are not rounded).
    """

    taker_fee_rate: Decimal
    slippage_rate: Decimal
    fee_source: str
    slippage_source: str
    price_tick: Decimal = ZERO

    def __post_init__(self) -> None:
        for name, value in (("taker_fee_rate", self.taker_fee_rate), ("slippage_rate", self.slippage_rate),
                            ("price_tick", self.price_tick)):
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValidationError(name, f"must be a Decimal of at least 0, got {value!r}")
        if self.taker_fee_rate >= 1 or self.slippage_rate >= 1:
            raise ValidationError("taker_fee_rate", "fee and slippage rates are fractions below 1")

    @property
    def source(self) -> str:
        """Describe both figures and where they came from, e.g. for the receipt."""
        fee = f"taker fee {_pct(self.taker_fee_rate)} % ({self.fee_source})"
        return f"{fee}, slippage {_pct(self.slippage_rate)} % per fill ({self.slippage_source})"

    def slippage_per_unit(self, entry: Decimal, stop: Decimal) -> Decimal:
        """Return the slippage of the entry and the stop fill per unit, tick rounding against us included."""
        if self.slippage_rate == 0:
            return ZERO
        return (entry + stop) * self.slippage_rate + 2 * self.price_tick

    def fees_per_unit(self, entry: Decimal, stop: Decimal) -> Decimal:
        """Return the taker fees of the entry and the stop fill per unit, charged on the slipped prices."""
        return (entry + stop + self.slippage_per_unit(entry, stop)) * self.taker_fee_rate

    def round_trip_per_unit(self, entry: Decimal, stop: Decimal) -> Decimal:
        """Return fees plus slippage of entering at ``entry`` and leaving at ``stop``, per unit."""
        return self.slippage_per_unit(entry, stop) + self.fees_per_unit(entry, stop)

    def loss_per_unit(self, entry: Decimal, stop: Decimal) -> Decimal:
        """Return what one unit loses when entered at ``entry`` and stopped at ``stop``, costs included."""
        return abs(entry - stop) + self.round_trip_per_unit(entry, stop)

    def as_dict(self) -> dict[str, str]:
        """Return the figures JSON-safe."""
        return {"taker_fee_rate": f"{self.taker_fee_rate.normalize():f}",
                "slippage_rate": f"{self.slippage_rate.normalize():f}",
                "price_tick": f"{self.price_tick.normalize():f}", "fee_source": self.fee_source,
                "slippage_source": self.slippage_source, "source": self.source}


@dataclass(frozen=True)
class StopLoss:
    """What some quantity loses at a stop: the price move, fees and slippage (USDT)."""

    qty: Decimal
    price: Decimal
    fees: Decimal
    slippage: Decimal

    @property
    def total(self) -> Decimal:
        return self.price + self.fees + self.slippage

    def __add__(self, other: StopLoss) -> StopLoss:
        return StopLoss(self.qty + other.qty, self.price + other.price, self.fees + other.fees,
                        self.slippage + other.slippage)


NO_LOSS = StopLoss(ZERO, ZERO, ZERO, ZERO)


def loss_at_stop(side: PositionSide, qty: Decimal, entry: Decimal, stop: Decimal, costs: TradingCosts) -> StopLoss:
    """Return what ``qty`` of a ``side`` position entered at ``entry`` loses at ``stop``, costs included.

    A stop on the profit side of ``entry`` counts a price move of 0, never a gain: the costs still count.
    """
    move = max((entry - stop) * side.sign, ZERO)
    return StopLoss(qty, qty * move, qty * costs.fees_per_unit(entry, stop), qty * costs.slippage_per_unit(entry, stop))


def existing_loss(positions: tuple[Position, ...], stop: Decimal, costs: TradingCosts) -> StopLoss:
    """Return what the open position(s) an add joins lose at the add's stop, costs included.

    After an add one stop covers the whole position. Each unit counts from its entry or the mark, whichever loses
    more at the stop: from the entry the loss is the trade's, from the mark it is what equity (which holds the
    unrealized P&L) gives back.
    """
    total = NO_LOSS
    for p in positions:
        long = p.side is PositionSide.LONG
        worst = max(p.entry_price, p.mark_price) if long else min(p.entry_price, p.mark_price)
        total += loss_at_stop(p.side, p.size, worst, stop, costs)
    return total


def trading_costs(account: CostSource, spec: MarketSpec, limits: RiskLimits) -> TradingCosts:
    """Return the costs of trading ``spec`` on ``account``: the venue's figures, else the limits' estimates.

    A venue read that fails raises its ``ExchangeError``; a figure the venue gives that is not a rate raises
    ``MalformedResponseError`` (never replaced by the estimate).
    """
    paper = account.mode == "paper"
    fee = _rate(account.taker_fee_rate(spec.symbol), f"{account.exchange} taker fee of {spec.symbol}")
    slippage = _rate(account.slippage_rate(spec.symbol), f"{account.exchange} slippage of {spec.symbol}")
    if fee is None:
        fee, fee_source = limits.taker_fee_estimate_pct / HUNDRED, ESTIMATE_FEE_SOURCE
    else:
        fee_source = PAPER_SOURCE if paper else f"{account.exchange} market taker fee (ccxt)"
    if slippage is None:
        slippage, slippage_source = limits.slippage_estimate_pct / HUNDRED, ESTIMATE_SLIPPAGE_SOURCE
    else:
        slippage_source = PAPER_SOURCE if paper else f"{account.exchange} slippage setting"
    return TradingCosts(fee, slippage, fee_source, slippage_source, spec.price_tick)


def backtest_costs(taker_fee: Decimal, slippage_bps: Decimal, price_tick: Decimal) -> TradingCosts:
    """Return the costs of a backtest run: its own taker fee (fraction) and slippage (basis points)."""
    return TradingCosts(taker_fee, slippage_bps / BPS, "backtest setting", "backtest setting", price_tick)


def _rate(value: Decimal | None, what: str) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or not ZERO <= value < 1:
        raise MalformedResponseError(f"the {what} is not a rate between 0 and 1: {value!r}")
    return value


def _pct(rate: Decimal) -> str:
    return f"{(rate * HUNDRED).normalize():f}"
