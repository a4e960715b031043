from flask.cli import AppGroup

payouts_cli = AppGroup("payouts", help="payouts")
