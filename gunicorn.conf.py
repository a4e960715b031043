"""gunicorn settings; every value can be overridden from the environment."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# The app writes its own structured access log line per request (with the request id).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Fork after importing the app: workers share the code pages; connections are opened lazily
# by each worker (the engine is created per process on first use).
preload_app = False
# gunicorn's control socket (for gunicornc) defaults to one path per user, so two servers of
# this project on one machine (two checkouts, two ports) would share it. Off unless a path is
# given, which then belongs to this server alone.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None


def post_worker_init(worker):
    """Each worker sweeps expired order holds in the background (see orders/sweeper.py)."""
    from marketplace.orders import sweeper

    sweeper.start(worker.wsgi)
