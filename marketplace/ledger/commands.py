import click
from flask.cli import AppGroup

from marketplace.extensions import db
from marketplace.ledger import check

ledger_cli = AppGroup("ledger", help="The money ledger: reconciliation.")


@ledger_cli.command("check")
def check_command():
    """Verify every ledger invariant and the gateways against the payments; exit 1 on any
    difference."""
    report = check.run(db.session)
    for difference in report.differences:
        click.echo(difference)
    if not report.ok:
        click.echo(f"{len(report.differences)} difference(s) found", err=True)
        raise SystemExit(1)
    click.echo(report.summary())
