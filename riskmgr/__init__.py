"""riskmgr: a conservative risk dashboard for USDT-margined crypto perpetual futures."""
