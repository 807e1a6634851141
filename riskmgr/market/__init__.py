"""Market data: the simulated market (default), exchange public data, candle arrays."""
