"""Backtesting: replay bars through the live signal rules, risk rules, sizing and the paper exchange's fills.

- ``engine``: the event-driven replay (its docstring is the fill semantics shown on the page); ``account``
  (wallet, position, fills, exits), ``polling`` (the risk engine's poll at each close), ``decisions`` (the entry
  decision through the filters and rules) and ``screening`` (array searches for the next bar that can act).
- ``reference``: the vectorized "SMA crossover reference" strategy.
- ``stats`` and ``report``: the statistics, and the stored result (charts, trades, exports).
- ``params`` and ``presets``: validated settings and the built-in presets; ``data`` and ``csvdata``: the bars.
- ``runs``: the job (a function of a run id) and the stores; ``service``, ``views``, ``commands``: the feature.
"""

# Decides, before any other module of the package is imported, whether the hot modules run compiled (see kernel).
from riskmgr.backtest import kernel as _kernel  # noqa: F401
