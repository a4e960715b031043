from datetime import timedelta

import click
from flask.cli import AppGroup

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.payments import refunds

payments_cli = AppGroup("payments", help="Payment housekeeping.")


@payments_cli.command("retry-refunds")
@click.option("--older-than-minutes", default=5, show_default=True)
def retry_refunds_command(older_than_minutes):
    """Send again the refunds that never reached the provider (a crash, an outage)."""
    count = refunds.retry_pending(
        db.session, older_than=utcnow() - timedelta(minutes=older_than_minutes)
    )
    db.session.commit()
    click.echo(f"retried {count} refund(s)")
