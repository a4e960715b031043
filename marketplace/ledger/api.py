from flask_smorest import Blueprint

blp = Blueprint("ledger", __name__, description="ledger")
