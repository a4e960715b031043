"""Extension singletons, initialised by create_app()."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from marketplace.api_document import ProblemApi
from marketplace.db import Base

# Models subclass marketplace.db.Base (plain SQLAlchemy 2 declarative); Flask-SQLAlchemy only
# manages engines and the request-scoped session, and shares the metadata with Alembic.
db = SQLAlchemy(metadata=Base.metadata, session_options={"expire_on_commit": False})
migrate = Migrate(compare_type=True, render_as_batch=True)
api = ProblemApi()
