"""Flask commands. Each domain contributes its own group; this file only registers them."""

from flask import Flask


def register(app: Flask) -> None:
    from marketplace.households.commands import households_cli
    from marketplace.i18n import i18n_cli
    from marketplace.jobs.commands import jobs_cli
    from marketplace.ledger.commands import ledger_cli
    from marketplace.orders.commands import orders_cli
    from marketplace.payments.commands import payments_cli
    from marketplace.payouts.commands import payouts_cli
    from marketplace.platform_sales.commands import livestreams_cli
    from marketplace.reports.commands import check_command, reports_cli
    from seed.commands import seed_cli

    # The reconciliation reads the whole ledger against payments and payouts (reports), but
    # people look for it beside the ledger's other commands.
    ledger_cli.add_command(check_command)
    for group in (
        seed_cli,
        households_cli,
        orders_cli,
        payments_cli,
        ledger_cli,
        payouts_cli,
        livestreams_cli,
        reports_cli,
        i18n_cli,
        jobs_cli,
    ):
        app.cli.add_command(group)
