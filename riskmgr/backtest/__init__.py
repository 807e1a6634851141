"""Backtesting: the engine, statistics and presets."""
