import click
from flask.cli import AppGroup

from marketplace.extensions import db

ledger_cli = AppGroup(
    "ledger", help="The money ledger: reconciliation and the yearly dividend top-up."
)


@ledger_cli.command("minimum-dividends")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
def minimum_dividends_command(year):
    """Top up co-op members whose dividends for YEAR fell short of their guaranteed minimum
    (保底分红), from the co-op's retained earnings. Safe to run again."""
    from marketplace.ledger import dividends

    results = dividends.top_up(db.session, year=year)
    db.session.commit()
    for result in results:
        if result.already_done:
            click.echo(f"co-op {result.cooperative_id}: {year} already topped up")
            continue
        short = sum(result.shortfalls.values())
        paid = sum(result.paid.values())
        click.echo(
            f"co-op {result.cooperative_id}: guarantee {result.guaranteed_fen} fen per member, "
            f"{len(result.shortfalls)} short by {short} fen, topped up {paid} fen"
        )
    if not results:
        click.echo("no co-operative guarantees a minimum dividend")
