"""The income report's body is written out by ``income_body`` instead of dumped through
``IncomeReportOut``; the dump stays the reference: for a county, a township, a village (a row per
household) and a closed month, the two are equal, and the API serves exactly that."""

from datetime import timedelta

import pytest

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.households.models import HouseholdStatus
from marketplace.periods import next_month, parse_period
from marketplace.reports import closing, income
from marketplace.reports.income_body import income_body
from marketplace.reports.income_figures import Source, empty_figures
from marketplace.reports.schemas import IncomeReportOut
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)


@pytest.fixture
def month_over(monkeypatch):
    later = next_month(shanghai_today().replace(day=1)) + timedelta(days=3)
    monkeypatch.setattr(closing, "shanghai_today", lambda: later)


def _both(client, session, money, region) -> tuple[dict, dict, dict]:
    month = f"{shanghai_today():%Y-%m}"
    report = income.income_report(
        session,
        Actor(user_id=money.admin2.id, username="admin2", role=Role.admin),
        region.id,
        parse_period(month),
    )
    served = client.get(
        "/api/v1/reports/income",
        query_string={"region_id": region.id, "period": month},
        headers=money.admin_headers,
    )
    assert served.status_code == 200, served.json
    return income_body(report), IncomeReportOut().dump(report), served.json


def test_the_body_is_the_schema_dump_at_every_level_and_once_closed(
    client, session, shop, money, pay, regions, month_over
):
    pay((shop.sku_500g, 3))
    pay((shop.sku_1kg, 1))
    for region in (regions.county, regions.township_a, regions.village_a1):
        written, dumped, served = _both(client, session, money, region)
        assert written == dumped == served
        assert written["rows"], region.name
    closed = client.post(
        "/api/v1/reports/closes",
        json={"region_id": regions.county.id, "month": f"{shanghai_today():%Y-%m}"},
        headers=money.official_headers,
    )
    assert closed.status_code == 201, closed.json
    for region in (regions.county, regions.village_a1):
        written, dumped, served = _both(client, session, money, region)
        assert written["close"] is not None
        assert written == dumped == served


def test_the_figures_name_every_source_and_status_and_nothing_else():
    """``empty_figures`` spells the names out for speed: they must be the enums' own."""
    figures = empty_figures()
    assert list(figures["by_source"]) == [source.value for source in Source]
    assert list(figures["coverage"]) == [status.value for status in HouseholdStatus]
    assert all(type(name) is str for name in [*figures["by_source"], *figures["coverage"]])
