from flask_smorest import Blueprint

blp = Blueprint("households", __name__, description="households")
