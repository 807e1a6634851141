"""The application: configuration, the runtime, the composition root, the scheduler and the command line.

Owns: ``factory`` (``create_app``, the one composition root), ``config`` (settings read once and validated),
``runtime`` (the long-lived objects built once), ``features`` (the features the app is assembled from), ``jobs``
and ``scheduler`` (the background jobs, one elected runner per database through ``leader``), ``cli`` (every
``flask`` command, one module per area, listed in ``cli.COMMANDS``) and ``logging_setup``.
Layer: above the features; only ``web`` and ``workers`` sit above it (import-linter contract). The
composition root (``factory``) wires every layer.
"""
