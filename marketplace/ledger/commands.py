from flask.cli import AppGroup

ledger_cli = AppGroup("ledger", help="ledger")
