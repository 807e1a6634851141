"""Celery workers over Redis, opt-in with ``REDIS_URL`` (without it nothing here is imported or started).

Owns: the Celery application bound to the Flask app (``celery_app``), the tasks (``tasks``: one account's poll,
the step after a poll, backtests by run id, the signal scan, alert delivery, the emergency stop's resume, and
every periodic job of ``riskmgr.app.jobs.job_table``), the beat schedule generated from that same table, and the
Redis locks that keep a periodic task from overlapping itself (``locks``). May import the app's features; nothing
outside this package imports it except ``riskmgr.app.scheduler`` and the features' hand-off points, lazily.
"""
