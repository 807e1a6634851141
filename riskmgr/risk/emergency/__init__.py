"""The emergency stop: cancel everything, close everything, stay halted until re-armed.

Owns: ``feature`` (the service on the runtime, its API, the live panel and the CLI), ``service`` (runs the
sequence once however many triggers fire, resumes it after a restart), ``sequence`` (the steps, one class each, in
the one ordered table), ``steps``, ``early`` and ``pool`` (the exchange work of the steps, at once and with
deadlines), ``store`` and ``models`` (sequences, steps, orders),
``triggers`` (the automatic triggers) and ``config``.
May import: ``core``, ``persistence``, ``exchanges``, ``risk``.
"""
