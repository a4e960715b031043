from flask.cli import AppGroup

households_cli = AppGroup("households", help="The household registry.")
