from datetime import timedelta

import click
from flask.cli import AppGroup

from marketplace.clock import SHANGHAI
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.payments import refunds
from marketplace.payments.gateways import GatewayUnavailable, gateway_for
from marketplace.payments.models import Gateway
from marketplace.payments.provider_reconciliation import reconcile

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


@payments_cli.command("reconcile")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The first day (Asia/Shanghai) whose PaymentIntents and refunds are compared.",
)
def reconcile_command(since):
    """Compare Stripe's PaymentIntents and refunds since a day with ours: apply what a missed
    webhook explains (recorded as the reconciliation's), report the rest; exit 1 when anything
    is left for a person."""
    try:
        gateway = gateway_for(Gateway.stripe)
    except GatewayUnavailable as error:
        raise click.ClickException(str(error.detail)) from None
    found = reconcile(db.session, gateway, since.replace(tzinfo=SHANGHAI))
    db.session.commit()
    for line in found.fixed:
        click.echo(f"fixed: {line}")
    for line in found.reported:
        click.echo(f"to check: {line}")
    click.echo(
        f"{found.compared} compared, {len(found.fixed)} fixed, {len(found.reported)} to check"
    )
    if not found.ok:
        raise SystemExit(1)
