"""``flask ledger check``: the reconciliation, from the command line. It reads payments and
payouts as well as the ledger, so it lives here; ``marketplace/cli.py`` files it under the
ledger's command group, where people look for it."""

import click

from marketplace.extensions import db
from marketplace.reports import reconciliation


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
