"""The emergency stop: cancel everything, close everything, stay halted until re-armed.

Owns: ``feature`` (the service on the runtime, its API, the live panel and the CLI), ``service`` (the sequence of
six steps, run once however many triggers fire, resumed after a restart), ``steps``, ``early`` and ``pool`` (the
exchange work of the steps, at once and with deadlines), ``store`` and ``models`` (sequences, steps, orders),
``triggers`` (the automatic triggers) and ``config``.
May import: ``core``, ``persistence``, ``exchanges``, ``risk``.
"""
