"""The automatic sweep of expired holds, run by every web worker in a background thread.

Several workers (and machines) sweep at once safely: the sweep skips rows another holds and
each order moves once. Nothing is kept in memory between sweeps.
"""

import logging
import random
import threading

from flask import Flask

from marketplace.db import run_after_commit
from marketplace.extensions import db
from marketplace.orders import service

logger = logging.getLogger(__name__)


def sweep_once(app: Flask) -> int:
    with app.app_context():
        try:
            count = service.expire_unpaid(db.session)
            db.session.commit()
            # What the expiry tells outside services (the provider's payments cancelled).
            run_after_commit(db.session, logger)
        except Exception:
            db.session.rollback()
            logger.exception("expiry sweep failed; the next one will try again")
            return 0
        finally:
            db.session.remove()
    if count:
        logger.info("expired %s unpaid order(s)", count)
    return count


def start(app: Flask) -> threading.Event | None:
    """Start sweeping every ORDER_SWEEP_SECONDS (jittered, so workers spread out). Returns the
    event that stops it."""
    interval = app.config["ORDER_SWEEP_SECONDS"]
    if interval <= 0:
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(interval * random.uniform(0.8, 1.2)):
            sweep_once(app)

    threading.Thread(target=loop, name="order-expiry-sweep", daemon=True).start()
    return stop
