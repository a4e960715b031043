"""Configuration from the environment.

The embedded default is a SQLite file under ``instance/`` so that ``make run`` works on a bare
machine; production sets ``DATABASE_URL`` (``postgresql+psycopg://...``).
"""

import os
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("MARKETPLACE_INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def normalize_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` spellings and always drive PostgreSQL through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    #: "development" or "production"; production refuses to start without real secrets.
    ENV_NAME = os.environ.get("MARKETPLACE_ENV", "development")
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'marketplace.sqlite3'}")
    )
    #: No ping on every checkout: it is a round trip per request. After a database restart
    #: the first request on a dead connection fails (503, retry) and SQLAlchemy then
    #: discards the whole stale pool; connections are also renewed every half hour.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": False, "pool_recycle": 1800}
    SQLALCHEMY_RECORD_QUERIES = False
    #: A read replica (a PostgreSQL streaming standby) for the officials' reports; unset, they
    #: read the main database (see reports/reading.py).
    REPORTS_DATABASE_URL = os.environ.get("REPORTS_DATABASE_URL") or None

    #: base64 of 32 random bytes; encrypts national ID and card numbers at rest. Without it, a
    #: development key is generated once into the instance folder.
    DATA_ENCRYPTION_KEY = os.environ.get("DATA_ENCRYPTION_KEY")
    DATA_KEY_FILE = INSTANCE_DIR / "data.key"
    #: Signs the console's session cookie. Without it, development generates one once into the
    #: instance folder; production refuses to start.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SESSION_KEY_FILE = INSTANCE_DIR / "session.key"
    #: The console's session cookie: not sent along when another site makes the browser
    #: navigate here with a POST, never read by scripts, and only over HTTPS where the service
    #: is served so (on in production; SESSION_COOKIE_SECURE=0 or 1 says otherwise).
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE = (
        os.environ.get("SESSION_COOKIE_SECURE", "1" if ENV_NAME == "production" else "0") == "1"
    )

    TOKEN_LIFETIME = timedelta(hours=_env_int("TOKEN_LIFETIME_HOURS", 12))
    #: Login throttling (accounts.service.check_throttle): failed logins allowed within the
    #: window for one username from one client address; for one username from addresses it
    #: has not logged in from before; from one address for usernames that have not logged in
    #: from it before. A successful login makes its address known for that many days.
    LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 5)
    LOGIN_MAX_FAILURES_PER_USERNAME = _env_int("LOGIN_MAX_FAILURES_PER_USERNAME", 50)
    LOGIN_MAX_FAILURES_PER_ADDRESS = _env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 100)
    LOGIN_FAILURE_WINDOW = timedelta(minutes=_env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15))
    LOGIN_KNOWN_ADDRESS = timedelta(days=_env_int("LOGIN_KNOWN_ADDRESS_DAYS", 30))

    UPLOAD_FOLDER = Path(os.environ.get("UPLOAD_FOLDER", INSTANCE_DIR / "uploads"))
    MAX_IMAGE_BYTES = _env_int("MAX_IMAGE_BYTES", 5 * 1024 * 1024)
    MAX_CONTENT_LENGTH = MAX_IMAGE_BYTES + 64 * 1024
    #: The largest platform export a station may upload at once (both of Taobao's files
    #: together); a larger one is a 413. The command line reads files of any size.
    PLATFORM_IMPORT_MAX_BYTES = _env_int("PLATFORM_IMPORT_MAX_BYTES", 64 * 1024 * 1024)
    #: The largest registry CSV an official or admin may upload for import (a county's
    #: hundred thousand households are about 20 MiB).
    REGISTRY_IMPORT_MAX_BYTES = _env_int("REGISTRY_IMPORT_MAX_BYTES", 48 * 1024 * 1024)

    #: The job queue's broker: a Redis URL in production (any number of workers, on any
    #: machines, run ``flask jobs worker``). Unset, the embedded broker that ``make run``
    #: starts (``flask jobs broker``) on a socket in the instance folder.
    JOBS_BROKER_SOCKET = INSTANCE_DIR / "broker.sock"
    JOBS_REDIS_URL = os.environ.get("JOBS_REDIS_URL") or f"unix://{JOBS_BROKER_SOCKET}"
    #: Hours a finished job's files (its upload, the report file or failed rows it made) are
    #: kept before the workers delete them.
    JOB_FILE_RETENTION_HOURS = _env_int("JOB_FILE_RETENTION_HOURS", 72)
    #: A report file estimated above this many rows (a county's every household) is made by
    #: a job (202 and its link) instead of streamed in the request.
    REPORT_FILE_JOB_ROWS = _env_int("REPORT_FILE_JOB_ROWS", 20_000)
    #: A ledger of more postings is reconciled by a job (GET /reconciliation answers 202): the
    #: check reads all of it, about a minute at ten million.
    RECONCILIATION_JOB_POSTINGS = _env_int("RECONCILIATION_JOB_POSTINGS", 1_000_000)

    #: How long a cached anonymous catalog page may show old stock figures (prices and
    #: listings invalidate it at once).
    CATALOG_CACHE_SECONDS = _env_int("CATALOG_CACHE_SECONDS", 5)
    #: How long a worker may answer a bearer token from what it read for it (PostgreSQL; 0:
    #: read it every time). A change to the token or its user is heard at once (a notice);
    #: this bounds only a worker that stopped hearing without knowing it
    #: (accounts/known_tokens.py).
    TOKEN_CACHE_SECONDS = _env_int("TOKEN_CACHE_SECONDS", 5)

    #: "offline" (default: stations record cash and transfers) or "stripe"
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "offline")
    STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")
    #: another Stripe API address (a local fake in tests); empty for the real one
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    STRIPE_PAYMENT_METHOD_TYPES = os.environ.get(
        "STRIPE_PAYMENT_METHOD_TYPES", "card,alipay,wechat_pay"
    ).split(",")
    #: how long an unpaid order holds its stock
    ORDER_HOLD_MINUTES = _env_int("ORDER_HOLD_MINUTES", 30)
    #: how often each worker looks for expired holds (0 turns the automatic sweep off)
    ORDER_SWEEP_SECONDS = _env_int("ORDER_SWEEP_SECONDS", 60)

    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    API_TITLE = "Village marketplace"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "v1/openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    # Served from the package's own copy when present, so the docs need no internet.
    OPENAPI_SWAGGER_UI_URL = os.environ.get(
        "OPENAPI_SWAGGER_UI_URL", "https://cdn.jsdelivr.net/npm/swagger-ui-dist/"
    )
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "info": {
            "description": "Consumption poverty alleviation marketplace: registry, catalog, "
            "orders and the money trail to registered households."
        },
    }

    JSON_SORT_KEYS = False


class TestConfig(Config):
    TESTING = True
    #: a problem sending a reason without a declared code fails the test that meets it
    REQUIRE_REASON_CODES = True
    ENV_NAME = "test"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    REPORTS_DATABASE_URL = None
    SECRET_KEY = "test-session-key-not-secret"
    # A fixed key so encrypted fixtures are reproducible; never used outside tests.
    DATA_ENCRYPTION_KEY = "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMTIzNDU="
    LOGIN_MAX_FAILURES = 5
    CATALOG_CACHE_SECONDS = 5
