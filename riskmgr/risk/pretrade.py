"""The pre-trade picture: one order's rule context built from real data, every verdict, the receipt, the headroom.

The gateway runs ``PreTrade.verdicts`` on every new-risk order; ``POST /api/orders/preview`` and the ticket show
``PreTrade.receipt``; the Risk page and ``flask risk status`` show ``PreTrade.headroom``. Everything is read
fresh: the latest snapshot (its status and time decide data freshness), the account's day baseline and peak, the
limits in force, the venue's closed trades and the mark price. A figure that cannot be read is never replaced by
a guess: the rules that need it deny, naming what is missing (when unsure, deny).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from riskmgr.domain import ZERO, AccountSnapshot, OrderRequest, OrderSide, Position, PositionSide, Verdict
from riskmgr.errors import ExchangeError, NotSupportedError, ValidationError
from riskmgr.formatting import dec
from riskmgr.models import AccountState
from riskmgr.risk import headroom as _unused  # noqa: F401
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import ClosedTrade, OrderIntent, RuleContext, build_context
from riskmgr.risk.rules import ALL_RULES, evaluate
from riskmgr.risk.sizing import HUNDRED, fmt_number, pct_of
from riskmgr.risk.state import admits, daily_loss_pct, risk_day

if TYPE_CHECKING:
    from riskmgr.runtime import Runtime
