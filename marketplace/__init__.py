"""The village marketplace service."""

from flask import Flask

from marketplace.reasons import code_marshmallow_messages

# marshmallow's own messages carry reason codes (marketplace/reasons.py): before any schema is
# defined, since a field copies its messages when it is made.
code_marshmallow_messages()


def create_app(config: object | None = None) -> Flask:
    """Build the application. ``config`` is a Config class or object; tests pass TestConfig."""
    from marketplace import cli, console, health, i18n, pii, request_cycle
    from marketplace.api_document import document_reasons
    from marketplace.catalog.storefront import front as storefront_front
    from marketplace.config import Config
    from marketplace.errors import register_error_handlers
    from marketplace.extensions import api, db, migrate
    from marketplace.http_api import IdConverter
    from marketplace.payments import checkout_front
    from marketplace.payments import gateways as payment_gateways
    from marketplace.reports import reading as reports_reading

    app = Flask(__name__, instance_relative_config=False)
    # Paths name rows as <id:...>: bounded ids, before any route is declared.
    app.url_map.converters["id"] = IdConverter

    # 1. Configuration: the class given, else the environment-driven default.
    app.config.from_object(config or Config)
    # Chinese text goes out as UTF-8, readable, not as \u escapes.
    app.json.ensure_ascii = False

    # 2. Logging first, so everything after it logs as JSON with secrets masked.
    request_cycle.configure_logging(app)

    # 3. Database and migrations. Importing the models registers every table with Alembic.
    ensure_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", "migrations")))
    import marketplace.models  # noqa: F401

    # 4. Personal-data encryption key (refuses to start in production without one), and the
    #    payment gateways chosen by PAYMENT_GATEWAY.
    pii.init_app(app)
    payment_gateways.init_app(app)

    # 5. The API: flask-smorest serves the OpenAPI document and the docs page.
    api.init_app(app)
    register_blueprints(api)
    reports_reading.init_app(app)
    app.register_blueprint(health.blp)
    # The browser console beside the API: the same services, signed in by a session cookie.
    console.register(app)

    # 6. One error format (its reasons in the request's language), one commit per request, a
    #    request id and an access log line.
    i18n.init_app(app)
    register_error_handlers(app)
    request_cycle.register_request_cycle(app)
    # Answered before Flask as the app would: a checkout that places its order, and the list's
    # anonymous hits on a worker's copies (payments/checkout_front.py, storefront/front.py).
    checkout_front.put_in_front(app)
    storefront_front.put_in_front(app)

    # 7. Command-line tools: flask seed, flask households import, ...
    cli.register(app)

    # 8. Every module has declared its reasons by now: the API document lists them.
    document_reasons(api.spec)
    return app


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder; a fresh clone has no instance/ yet."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def register_blueprints(api) -> None:
    from marketplace.accounts.api import blp as accounts
    from marketplace.catalog.api import blp as catalog
    from marketplace.households.api import blp as households
    from marketplace.jobs.api import blp as jobs
    from marketplace.ledger.api import blp as ledger
    from marketplace.ledger.pledges.api import blp as pledges
    from marketplace.livestreams.api import blp as livestreams
    from marketplace.orders.api import blp as orders
    from marketplace.payments.api import blp as payments
    from marketplace.payouts.api import blp as payouts
    from marketplace.platform_sales.api import blp as platform_sales
    from marketplace.producers.api import blp as producers
    from marketplace.regions.api import blp as regions
    from marketplace.reports.api import blp as reports

    for blueprint in (
        accounts,
        regions,
        households,
        producers,
        catalog,
        livestreams,
        orders,
        payments,
        ledger,
        pledges,
        payouts,
        platform_sales,
        reports,
        jobs,
    ):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
