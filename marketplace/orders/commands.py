import logging

import click
from flask.cli import AppGroup

from marketplace.db import run_after_commit
from marketplace.extensions import db
from marketplace.orders import fulfilment, service

logger = logging.getLogger(__name__)
orders_cli = AppGroup("orders", help="Order housekeeping.")


@orders_cli.command("expire")
def expire_command():
    """Cancel unpaid orders whose hold ran out and put their stock back."""
    total = 0
    while True:
        count = service.expire_unpaid(db.session)
        db.session.commit()
        run_after_commit(db.session, logger)
        total += count
        if count == 0:
            break
    click.echo(f"expired {total} unpaid order(s)")


@orders_cli.command("complete")
def complete_command():
    """Complete delivered orders whose after-sales window has passed."""
    count = fulfilment.complete_due(db.session)
    db.session.commit()
    click.echo(f"completed {count} order(s)")
