"""The stop-loss watchdog feature as ``riskmgr.app.features`` lists it: its settings, the watchdog and its poll hook.
The watchdog itself is ``accounts.watchdog``; the Accounts page, its API and the self-test button are
``riskmgr.web.accounts``; ``flask exchanges selftest`` and ``flask watchdog status`` are ``riskmgr.app.cli.exchanges``.
"""

from __future__ import annotations

from riskmgr.accounts.watchdog import NAME, ProtectionWatchdog, install, poll_hook, settings_from_env
from riskmgr.core.feature import Feature

FEATURE = Feature(name=NAME, install=install, provides=(ProtectionWatchdog,), poll_hook=poll_hook,
                  settings_from_env=settings_from_env)
