"""The risk core: limits (config), sizing, the pre-trade rules, trading-state logic and position levels.

Everything in config, sizing, context, rules, state and levels is pure: no database, exchange or Flask.
The gateway, the protection watchdog and the emergency stop build on it.
"""
