"""Signals from a scan are whole Signals: every field, equal to one built by the constructor, frozen."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from riskmgr.core.clock import from_ms
from riskmgr.market.base import CandleArrays
from riskmgr.signals.conservative import Signal, SignalParams, scan_latest

BAR_MS = 900_000


def test_scanned_signals_carry_every_field_and_equal_signals_built_by_their_constructor():
    rng = np.random.default_rng(20240101)
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    universe = {}
    for k in range(60):
        close = 100 * np.exp(np.cumsum(rng.normal(rng.normal(0, 0.0004), 0.004, 1000)))
        open_ = np.concatenate(([close[0]], close[:-1]))
        universe[f"S{k}"] = CandleArrays(start + BAR_MS * np.arange(1000, dtype=np.int64), open_,
                                         np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998, close,
                                         rng.lognormal(7, 0.4, 1000))

    result = scan_latest(universe, SignalParams(), from_ms(start + BAR_MS * 1000))

    assert result.signals
    names = [f.name for f in dataclasses.fields(Signal)]
    for signal in result.signals:
        assert list(vars(signal)) == names
        assert signal == Signal(**{name: getattr(signal, name) for name in names})
        with pytest.raises(dataclasses.FrozenInstanceError):
            signal.confidence = 0  # type: ignore[misc]
