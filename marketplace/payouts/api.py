from flask_smorest import Blueprint

blp = Blueprint("payouts", __name__, description="payouts")
