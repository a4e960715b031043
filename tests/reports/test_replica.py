"""With ``REPORTS_DATABASE_URL`` set, the officials' reports read that database (a replica),
while sign-in, scoping and every write stay on the main one; unset, they read the main one."""

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.db import Base
from marketplace.regions.models import Region

REPORTS = (
    "/api/v1/reports/income?region_id={id}&period=2026-10",
    "/api/v1/reports/channels?region_id={id}&period=2026-10",
    "/api/v1/reports/assistance?region_id={id}&year=2026",
    "/api/v1/reports/coverage?region_id={id}&period=2026-10",
    "/api/v1/reports/income.csv?region_id={id}&period=2026-10",
)


@pytest.fixture
def replica(app, session, make_region, tmp_path, monkeypatch):
    """A stand-in replica: a database of its own holding the main one's county under
    another name, so an answer shows which database it came from."""
    county = make_region(name="青松县")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'replica.sqlite3'}")
    Base.metadata.create_all(engine)
    row = {column.name: getattr(county, column.key) for column in Region.__table__.columns}
    with engine.begin() as connection:
        connection.execute(sa.insert(Region.__table__), [{**row, "name": "青松县 (副本)"}])
    engine.dispose()
    monkeypatch.setitem(app.config, "REPORTS_DATABASE_URL", str(engine.url))
    yield county
    engine = app.extensions.pop("reports_engine", None)
    if engine is not None:
        engine.dispose()


def test_every_report_reads_the_replica(client, replica, make_user, auth):
    official = auth(make_user(Role.official, region_id=replica.id))
    for url in REPORTS:
        response = client.get(url.format(id=replica.id), headers=official)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        text = response.get_data(as_text=True)
        if "region" in (response.json or {}) or url.endswith(".csv"):
            assert "青松县 (副本)" in text, url


def test_without_a_replica_reports_read_the_main_database(client, make_region, make_user, auth):
    county = make_region(name="青松县")
    official = auth(make_user(Role.official, region_id=county.id))
    response = client.get(REPORTS[0].format(id=county.id), headers=official)
    assert response.status_code == 200
    assert response.json["region"]["name"] == "青松县"


def test_closing_a_month_writes_to_the_main_database_even_with_a_replica(
    client, session, replica, make_user, auth
):
    from marketplace.closes.models import MonthClose

    official = auth(make_user(Role.official, region_id=replica.id))
    response = client.post(
        "/api/v1/reports/closes",
        json={"region_id": replica.id, "month": "2026-10"},
        headers=official,
    )
    assert response.status_code == 201, response.json
    assert session.execute(
        sa.select(MonthClose.id).where(MonthClose.region_id == replica.id)
    ).scalar_one()


@pytest.mark.postgres
def test_a_replica_session_refuses_writes_on_postgresql(app, database_url, monkeypatch):
    from marketplace.reports.reading import report_session

    monkeypatch.setitem(app.config, "REPORTS_DATABASE_URL", database_url)
    try:
        with app.test_request_context():
            reading = report_session()
            with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
                reading.execute(sa.text("CREATE TEMPORARY TABLE scratch (id integer)"))
    finally:
        app.extensions.pop("reports_engine").dispose()
