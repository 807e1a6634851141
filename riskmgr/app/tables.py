"""Every table of the app: each feature's tables live beside its code; importing this module registers them all.

``create_app`` imports it, so the metadata (``db.create_all``, Alembic's autogenerate and the migration check) sees
every table. ``riskmgr.persistence.models`` holds the core tables only and imports no feature.
"""

from __future__ import annotations

from riskmgr.accounts import watchdog_store as watchdog_models  # noqa: F401
from riskmgr.alerts import models as alerts_models  # noqa: F401
from riskmgr.app import login_throttle  # noqa: F401
from riskmgr.backtest import models as backtest_models  # noqa: F401
from riskmgr.exchanges.paper import models as paper_models  # noqa: F401
from riskmgr.journal import models as journal_models  # noqa: F401
from riskmgr.persistence import models  # noqa: F401
from riskmgr.risk.emergency import models as emergency_models  # noqa: F401
from riskmgr.scanner import models as scanner_models  # noqa: F401
