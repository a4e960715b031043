"""``flask ledger check``: the reconciliation, from the command line. It reads payments and
payouts as well as the ledger, so it lives here; ``marketplace/cli.py`` files it under the
ledger's command group, where people look for it. ``flask reports close-month`` closes a month
for scripted month ends."""

import click
from flask.cli import AppGroup

from marketplace.accounts.auth import actor_for_username
from marketplace.accounts.models import Role
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.periods import month_of
from marketplace.reports import closing, reconciliation


@click.command("check")
def check_command():
    """Verify every ledger invariant and the gateways against the payments; exit 1 on any
    difference."""
    report = reconciliation.run(db.session)
    for difference in report.differences:
        click.echo(difference)
    if not report.ok:
        click.echo(f"{len(report.differences)} difference(s) found", err=True)
        raise SystemExit(1)
    click.echo(report.summary())


reports_cli = AppGroup("reports", help="Officials' reports and their closed months.")


@reports_cli.command("close-month")
@click.option("--region", "region_id", type=int, required=True, help="The region's id.")
@click.option("--month", required=True, help="The month, such as 2025-09.")
@click.option("--as", "username", required=True, help="The official or admin who closes it.")
def close_month_command(region_id: int, month: str, username: str) -> None:
    """Close a month for a region, as the API does (for scripted month ends)."""
    try:
        period = month_of(month)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--month") from None
    actor = actor_for_username(db.session, username)
    if actor is None or actor.role not in (Role.admin, Role.official):
        raise click.ClickException(f"{username} is not an active official or admin.")
    try:
        close = closing.close_month(db.session, actor, region_id, period)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    db.session.commit()
    click.echo(f"Closed {period.label} for region {region_id} (close {close.id}).")
