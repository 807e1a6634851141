"""gunicorn settings (read automatically from the working directory).

``make run`` binds 127.0.0.1:$PORT; the Procfile binds 0.0.0.0:$PORT. Each worker tries to start the
background jobs after it boots; exactly one wins the scheduler lock (see riskmgr/app/scheduler.py).
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'


def post_worker_init(worker):
    from riskmgr.app.scheduler import start_background_jobs
    from riskmgr.web.auth import ensure_admin_credentials

    ensure_admin_credentials(worker.wsgi)
    start_background_jobs(worker.wsgi)


def worker_exit(server, worker):
    from riskmgr.app.scheduler import stop_background_jobs

    stop_background_jobs(worker.wsgi)
