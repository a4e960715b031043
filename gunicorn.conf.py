"""gunicorn settings; every value can be overridden from the environment."""

import gc
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


#: The garbage collector's first threshold in a worker: allocations (less deallocations) between
#: two collections of the youngest objects. Python's default, 700, ran one every few dozen rows
#: of a village's report (a few nested dicts a household).
GC_YOUNG_THRESHOLD = 50_000


def post_worker_init(worker):
    """Each worker sweeps expired order holds in the background (see orders/sweeper.py).

    Then the objects of the loaded app (a quarter of a million: modules, mappers, schemas)
    leave the garbage collector's view for good (``gc.freeze``), and its youngest generation
    is collected less often: both would otherwise be paid by requests, and a village's report
    spent a seventh of its worker's time in collections (4.5 ms of CPU a request, 3.8 ms
    after; see bench/README.md). Requests leave few cycles behind; those still go at the next
    collection."""
    from marketplace.orders import sweeper

    sweeper.start(worker.wsgi)
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
