from decimal import Decimal

from riskmgr.market.sim.specs import SIM_SYMBOLS

EXPECTED_BASES = [
    "BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT",
    "LTC", "TRX", "BCH", "NEAR", "APT", "ARB", "OP", "SUI", "ATOM", "FIL",
]


def _is_power_of_ten(value: Decimal) -> bool:
    return value > 0 and value == Decimal(10) ** value.adjusted()


def test_the_twenty_perpetuals_have_ccxt_unified_names():
    assert [s.spec.symbol for s in SIM_SYMBOLS] == [f"{b}/USDT:USDT" for b in EXPECTED_BASES]
    assert all(s.spec.base + "/USDT:USDT" == s.spec.symbol and s.spec.quote == "USDT" for s in SIM_SYMBOLS)


def test_specs_are_sane():
    for sim in SIM_SYMBOLS:
        spec = sim.spec
        assert spec.min_notional == Decimal(5)
        assert _is_power_of_ten(spec.qty_step) and _is_power_of_ten(spec.price_tick), spec.symbol
        assert spec.min_qty >= spec.qty_step
        assert 20 <= spec.max_leverage <= 125
        assert Decimal("0.002") <= spec.maintenance_margin_rate <= Decimal("0.05")
        assert spec.contract_size == 1


def test_start_prices_span_many_ticks_and_the_minimum_order_fits_the_default_notional_cap():
    for sim in SIM_SYMBOLS:
        tick = float(sim.spec.price_tick)
        assert sim.start_price / tick >= 1000, sim.spec.symbol
        assert float(sim.spec.min_qty) * sim.start_price < 1000  # the default max position notional


def test_price_decimals_follow_the_tick():
    decimals = {s.spec.base: s.price_decimals for s in SIM_SYMBOLS}
    assert (decimals["BTC"], decimals["ETH"], decimals["DOGE"], decimals["SOL"]) == (1, 2, 5, 2)


def test_btc_is_calmer_than_the_alts():
    btc = SIM_SYMBOLS[0]
    assert all(btc.daily_vol <= s.daily_vol for s in SIM_SYMBOLS if s.spec.base not in ("BTC", "TRX"))
