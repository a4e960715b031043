"""Flask commands. Each domain contributes its own group; this file only registers them."""

from flask import Flask


def register(app: Flask) -> None:
    from marketplace.households.commands import households_cli
    from marketplace.ledger.commands import ledger_cli
    from marketplace.orders.commands import orders_cli
    from marketplace.payments.commands import payments_cli
    from marketplace.payouts.commands import payouts_cli
    from seed.commands import seed_cli

    for group in (seed_cli, households_cli, orders_cli, payments_cli, ledger_cli, payouts_cli):
        app.cli.add_command(group)
