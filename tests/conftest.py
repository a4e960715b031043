"""Test harness: a migrated database per run, a rolled-back transaction per test, factories.

The backend is SQLite unless TEST_BACKEND=postgres, in which case a fresh database is created
on the server named by TEST_DATABASE_URL and dropped after the run (``make test`` runs both).
"""

import functools
import itertools
import os
import shutil
import tempfile
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from marketplace import create_app, pii
from marketplace.accounts.auth import new_token
from marketplace.accounts.models import ApiToken, Role, User
from marketplace.accounts.service import hash_password
from marketplace.catalog.models import Category, Product, ProductStatus, Sku
from marketplace.config import TestConfig, normalize_database_url
from marketplace.db import Base, utcnow
from marketplace.extensions import db as flask_db
from marketplace.households.models import Household, HouseholdStatus, HouseholdStatusChange
from marketplace.producers.models import Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from tests import ownership

BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_configure(config):
    if BACKEND == "postgres" and not PG_SERVER_URL:
        raise pytest.UsageError("TEST_BACKEND=postgres needs TEST_DATABASE_URL")


def pytest_collection_modifyitems(config, items):
    if BACKEND == "postgres":
        return
    reason = "PostgreSQL-only test: run with TEST_BACKEND=postgres and TEST_DATABASE_URL set"
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_report_header(config):
    return f"database backend: {BACKEND}"


def _server_engine():
    return sa.create_engine(
        normalize_database_url(PG_SERVER_URL), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )


@pytest.fixture(scope="session")
def database_url():
    if BACKEND == "postgres":
        name = f"mkt_test_{uuid.uuid4().hex[:12]}"
        server = _server_engine()
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(normalize_database_url(PG_SERVER_URL)).set(database=name)
        yield url.render_as_string(hide_password=False)
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="mkt-test-") as folder:
            yield f"sqlite:///{folder}/test.sqlite3"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        UPLOAD_FOLDER = tmp_path_factory.mktemp("uploads")

    app = create_app(Config)
    ownership.install(Base)  # a write to a table outside its owner fails the test making it
    with app.app_context():
        upgrade()  # the schema comes from the migrations, never create_all()
        flask_db.engine.dispose()
    yield app
    with app.app_context():
        flask_db.engine.dispose()  # before the database is dropped


@pytest.fixture
def session(app):
    """The test's session, inside a transaction that is rolled back afterwards. Requests made
    through ``client`` share it, so they see the test's rows and their commits stay inside."""
    with app.app_context():
        connection = flask_db.engine.connect()
        outer = connection.begin()
        scoped = scoped_session(
            lambda: Session(
                bind=connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
            )
        )
        original = flask_db.session
        flask_db.session = scoped
        try:
            yield scoped
        finally:
            flask_db.session = original
            scoped.remove()
            outer.rollback()
            connection.close()


class _CommittingClient(FlaskClient):
    """Commits the test's pending rows (into the outer, rolled-back transaction) before each
    request, so a request that fails and rolls back undoes only its own work, as in production."""

    def open(self, *args, **kwargs):
        flask_db.session.commit()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app, session):
    app.test_client_class = _CommittingClient
    return app.test_client()


@pytest.fixture
def count_queries(session):
    """``with count_queries() as counted: ...``; then ``counted.count`` statements ran."""

    class Counter:
        def __init__(self):
            self.statements = []

        @property
        def count(self):
            return len(self.statements)

        def __enter__(self):
            event.listen(flask_db.engine, "before_cursor_execute", self._record)
            return self

        def __exit__(self, *exc):
            event.remove(flask_db.engine, "before_cursor_execute", self._record)

        def _record(self, conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                self.statements.append(statement)

    return Counter


# ---------------------------------------------------------------------------------------------
# Factories: small, with sensible defaults; every keyword overrides a field.

_serial = itertools.count(1)


def _next():
    return next(_serial)


def _valid_id_number(birth: date | None = None) -> str:
    birth = birth or date(1970, 1, 1) + timedelta(days=_next() * 37 % 15000)
    body = f"220524{birth:%Y%m%d}{_next() % 1000:03d}"
    return body + pii.id_check_digit(body)


@pytest.fixture
def id_number():
    return _valid_id_number


@pytest.fixture
def make_region(session):
    def make(parent: Region | None = None, **over) -> Region:
        n = _next()
        if parent is None:
            level, code = RegionLevel.county, f"{220500 + n % 99:06d}000000"
        elif parent.level is RegionLevel.county:
            level, code = RegionLevel.township, f"{parent.code[:6]}{n % 999 + 1:03d}000"
        else:
            level, code = RegionLevel.village, f"{parent.code[:9]}{n % 999 + 1:03d}"
        fields = {"code": code, "name": f"{level.value}-{n}", "level": level, "parent_id": None}
        fields["parent_id"] = parent.id if parent else None
        fields.update(over)
        region = Region(path="", **fields)
        session.add(region)
        session.flush()
        region.path = f"{parent.path if parent else '/'}{region.id}/"
        session.flush()
        return region

    return make


@pytest.fixture
def regions(make_region):
    """Two counties; the first has two townships with two villages each."""

    class Tree:
        county = make_region(name="青松县")
        township_a = make_region(county, name="白山镇")
        township_b = make_region(county, name="松江乡")
        village_a1 = make_region(township_a, name="蓝莓村")
        village_a2 = make_region(township_a, name="榛子村")
        village_b1 = make_region(township_b, name="人参村")
        village_b2 = make_region(township_b, name="木耳村")
        other_county = make_region(name="远山县")
        other_township = make_region(other_county, name="远山镇")
        other_village = make_region(other_township, name="远山村")

    return Tree


@pytest.fixture
def make_household(session):
    # No app_context() here: popping one would remove the shared test session.
    def make(village: Region, **over) -> Household:
        cipher = pii.cipher()
        id_number = over.pop("id_number", None) or _valid_id_number()
        status = over.pop("status", HouseholdStatus.lifted)
        fields = {
            "registry_number": f"2205240{_next():09d}",
            "head_name": "王春花",
            "head_id_encrypted": cipher.encrypt(id_number),
            "head_id_lookup": cipher.lookup_hash(id_number),
            "head_id_masked": pii.mask(id_number),
            "members_count": 3,
            "village_id": village.id,
            "poverty_causes": ["illness"],
            "status": status,
            "monitoring_type": over.pop("monitoring_type", None),
        }
        fields.update(over)
        household = Household(**fields)
        session.add(household)
        session.flush()
        session.add(
            HouseholdStatusChange(
                household_id=household.id,
                status=household.status,
                monitoring_type=household.monitoring_type,
                effective_from=date(2016, 1, 1),
            )
        )
        session.flush()
        household.plain_id_number = id_number  # for assertions only; not a column
        return household

    return make


@pytest.fixture
def make_station(session):
    def make(village: Region, **over) -> Station:
        n = _next()
        fields = {
            "code": f"ST{n:04d}",
            "name": f"{village.name}电商服务站{n}",
            "village_id": village.id,
        }
        fields.update(over)
        station = Station(**fields)
        session.add(station)
        session.flush()
        return station

    return make


@pytest.fixture
def make_producer(session):
    def make(station: Station, **over) -> Producer:
        n = _next()
        kind = over.pop("kind", ProducerKind.cooperative)
        fields = {
            "kind": kind,
            "name": f"青松蓝莓种植专业合作社{n}",
            "region_id": station.village_id,
            "station_id": station.id,
            "credit_code": f"93220524MA{n:07d}X" if kind is not ProducerKind.household else None,
        }
        fields.update(over)
        producer = Producer(**fields)
        session.add(producer)
        session.flush()
        return producer

    return make


@functools.cache
def _password_hash(password: str) -> str:
    # argon2 is slow on purpose; hashing each fixture user's password once per run is enough.
    return hash_password(password)


@pytest.fixture
def make_user(session):
    def make(role: Role = Role.buyer, **over) -> User:
        n = _next()
        fields = {
            "username": f"{role.value}{n}",
            "password_hash": _password_hash(over.pop("password", "correct horse battery")),
            "display_name": f"用户{n}",
            "role": role,
        }
        fields.update(over)
        user = User(**fields)
        session.add(user)
        session.flush()
        return user

    return make


@pytest.fixture
def auth(session):
    """``auth(user)`` -> request headers carrying a fresh bearer token for ``user``."""

    def headers(user: User) -> dict:
        token, token_hash = new_token()
        session.add(
            ApiToken(
                user_id=user.id, token_hash=token_hash, expires_at=utcnow() + timedelta(hours=1)
            )
        )
        session.flush()
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def make_product(session):
    def make(station: Station, producer: Producer, **over) -> Product:
        n = _next()
        skus = over.pop("skus", [{"spec": "500g 礼盒", "price_fen": 6800, "stock": 20}])
        category = (
            over.pop("category", None)
            or session.execute(sa.select(Category).where(Category.code == "fruit")).scalar_one()
        )
        fields = {
            "station_id": station.id,
            "producer_id": producer.id,
            "origin_village_id": producer.region_id,
            "category_id": category.id,
            "name": f"野生蓝莓{n}",
            "unit": "盒",
            "status": ProductStatus.active,
            "search_text": f"野生蓝莓{n}",
        }
        fields.update(over)
        product = Product(**fields)
        session.add(product)
        session.flush()
        created = [
            Sku(product_id=product.id, station_id=station.id, code=f"P{product.id}-{i}", **sku)
            for i, sku in enumerate(skus)
        ]
        session.add_all(created)
        session.flush()
        product.skus_created = created  # for tests; the relationship itself is lazy="raise"
        product.min_price_fen = min(s["price_fen"] for s in skus) if skus else None
        session.flush()
        return product

    return make


# --- the browser tests' (tests/console/browser.py): one Chromium and one served demo county for
# the whole run; a second sync Playwright in the same thread would refuse to start.


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium, for the browser tests (``tests/console/browser.py``). Without
    one on the PATH they are skipped, unless REQUIRE_BROWSER is set (CI sets it)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but there is no chromium on the PATH")
        pytest.skip("no chromium on the PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo county on a served app of its own, shared by every browser test: each test
    makes what it needs (its own order, session, ...) rather than counting on another's."""
    from seed.demo import load_demo
    from tests.served import served_app

    with served_app(tmp_path_factory.mktemp("console-browser")) as served:
        with served.session() as session:
            load_demo(session)
        yield served
