"""Status over time: the history drives the current status."""

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.households.models import Household, HouseholdStatus, HouseholdStatusChange
from marketplace.households.status import apply_due_status_changes

URL = "/api/v1/households"


def changes_of(session, household) -> int:
    stmt = sa.select(sa.func.count()).where(HouseholdStatusChange.household_id == household.id)
    return session.execute(stmt).scalar_one()


def current(client, household, headers) -> tuple:
    body = client.get(f"{URL}/{household.id}", headers=headers).json
    return body["status"], body["monitoring_type"]


def test_history_is_listed_by_effective_date(client, regions, make_household, official_a, admin):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    for status, day in (("monitoring", "2022-05-01"), ("lifted", "2019-12-31")):
        body = {"status": status, "effective_from": day, "note": "年度动态调整"}
        if status == "monitoring":
            body["monitoring_type"] = "unstable_lifted"
        created = client.post(f"{URL}/{household.id}/status-changes", json=body, headers=admin)
        assert created.status_code == 201, created.json
    response = client.get(f"{URL}/{household.id}/status-history", headers=official_a)
    assert response.status_code == 200
    assert [(c["status"], c["effective_from"]) for c in response.json] == [
        ("in_poverty", "2016-01-01"),
        ("lifted", "2019-12-31"),
        ("monitoring", "2022-05-01"),
    ]
    assert response.json[2]["monitoring_type"] == "unstable_lifted"
    assert response.json[1]["note"] == "年度动态调整"
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


def test_a_later_change_moves_the_current_status(client, regions, make_household, station_a1):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    response = client.post(
        f"{URL}/{household.id}/status-changes",
        json={"status": "lifted", "effective_from": "2020-12-31"},
        headers=station_a1,
    )
    assert response.status_code == 201
    assert response.json["status"] == "lifted"
    assert response.json["recorded_by_id"] is not None
    assert current(client, household, station_a1) == ("lifted", None)


def test_a_back_dated_change_does_not_override_a_later_one(client, regions, make_household, admin):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    url = f"{URL}/{household.id}/status-changes"
    later = {"status": "monitoring", "monitoring_type": "marginal", "effective_from": "2023-03-01"}
    assert client.post(url, json=later, headers=admin).status_code == 201
    earlier = {"status": "lifted", "effective_from": "2020-12-31"}
    assert client.post(url, json=earlier, headers=admin).status_code == 201
    assert current(client, household, admin) == ("monitoring", "marginal")


def test_a_future_change_waits_for_its_day(client, session, regions, make_household, admin):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    due = shanghai_today() + timedelta(days=10)
    response = client.post(
        f"{URL}/{household.id}/status-changes",
        json={"status": "lifted", "effective_from": due.isoformat()},
        headers=admin,
    )
    assert response.status_code == 201
    assert current(client, household, admin) == ("in_poverty", None)

    assert apply_due_status_changes(session, today=due - timedelta(days=1)) == 0
    assert apply_due_status_changes(session, today=due) == 1
    session.expire_all()
    assert session.get(Household, household.id).status is HouseholdStatus.lifted
    assert apply_due_status_changes(session, today=due) == 0


def test_apply_status_changes_command(app, session, regions, make_household):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    session.add(
        HouseholdStatusChange(
            household_id=household.id,
            status=HouseholdStatus.monitoring,
            monitoring_type="sudden_hardship",
            effective_from=date(2030, 6, 1),
        )
    )
    session.flush()
    result = app.test_cli_runner().invoke(
        args=["households", "apply-status-changes", "--date", "2030-06-01"]
    )
    assert result.exit_code == 0, result.output
    assert "1 households changed status" in result.output
    session.expire_all()
    row = session.get(Household, household.id)
    assert (row.status, row.monitoring_type) == ("monitoring", "sudden_hardship")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "monitoring", "effective_from": "2020-01-01"}, "monitoring_type"),
        (
            {"status": "lifted", "monitoring_type": "marginal", "effective_from": "2020-01-01"},
            "monitoring_type",
        ),
        ({"status": "lifted"}, "effective_from"),
        ({"status": "lifted", "effective_from": "2020-02-30"}, "effective_from"),
        ({"status": "gone", "effective_from": "2020-01-01"}, "status"),
        ({"status": "lifted", "effective_from": "2020-01-01", "note": "x" * 501}, "note"),
    ],
)
def test_bad_status_change_is_422_and_records_nothing(
    client, session, regions, make_household, admin, body, field
):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    response = client.post(f"{URL}/{household.id}/status-changes", json=body, headers=admin)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert changes_of(session, household) == 1
    session.expire_all()
    assert session.get(Household, household.id).status is HouseholdStatus.in_poverty


def test_status_change_outside_scope_is_404(
    client, session, regions, make_household, station_a1, official_a
):
    elsewhere = make_household(regions.village_b1, status=HouseholdStatus.in_poverty)
    body = {"status": "lifted", "effective_from": "2020-12-31"}
    response = client.post(f"{URL}/{elsewhere.id}/status-changes", json=body, headers=station_a1)
    assert response.status_code == 404
    history = client.get(f"{URL}/{elsewhere.id}/status-history", headers=official_a)
    assert history.status_code == 404
    assert "in_poverty" not in history.get_data(as_text=True)
    assert changes_of(session, elsewhere) == 1


def test_status_changes_need_a_writer(client, session, regions, make_household, official_a):
    household = make_household(regions.village_a1, status=HouseholdStatus.in_poverty)
    body = {"status": "lifted", "effective_from": "2020-12-31"}
    url = f"{URL}/{household.id}/status-changes"
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=official_a).status_code == 403
    assert client.get(f"{URL}/{household.id}/status-history").status_code == 401
    assert changes_of(session, household) == 1


def test_appending_a_change_bumps_the_household_version(client, regions, make_household, admin):
    """Even when the status stays, so two concurrent appends cannot both recompute blind."""
    household = make_household(regions.village_a1, status=HouseholdStatus.lifted)
    body = {"status": "lifted", "effective_from": "2018-01-01"}
    client.post(f"{URL}/{household.id}/status-changes", json=body, headers=admin)
    assert client.get(f"{URL}/{household.id}", headers=admin).json["version"] == 2
