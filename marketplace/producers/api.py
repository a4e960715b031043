from flask_smorest import Blueprint

blp = Blueprint("producers", __name__, description="producers")
