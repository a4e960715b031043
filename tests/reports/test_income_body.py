"""The income report's body is written out by ``income_body`` instead of dumped through
``IncomeReportOut``; the dump stays the reference: for a county, a township, a village (a row per
household) and a closed month, the two are equal, and the API serves exactly that."""

from datetime import timedelta

import pytest

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.households.models import HouseholdStatus
from marketplace.ledger.models import EntryKind
from marketplace.periods import next_month, parse_period
from marketplace.reports import closing, income
from marketplace.reports.figures import (
    Source,
    add_money,
    count_households,
    empty_figures,
    finish,
)
from marketplace.reports.income_body import income_body
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
    """``finish`` spells the names out for speed: they must be the enums' own."""
    figures = finish(empty_figures())
    assert list(figures["by_source"]) == [source.value for source in Source]
    assert list(figures["coverage"]) == [status.value for status in HouseholdStatus]
    assert all(type(name) is str for name in [*figures["by_source"], *figures["coverage"]])


def test_each_status_and_source_is_counted_under_its_own_name():
    """The figures add up in slots and ``finish`` names them: each status's households and
    each source's money must come out under their own names, and nowhere else."""
    for place, status in enumerate(HouseholdStatus):
        figures = empty_figures()
        count_households(figures, status.value, True, 3 + place, 1)
        coverage = finish(figures)["coverage"]
        assert coverage[status.value] == {"registered": 1, "reached": 1}
        assert all(c == {"registered": 0, "reached": 0} for n, c in coverage.items() if n != status)
    for place, source in enumerate(Source):
        figures = empty_figures()
        add_money(figures, EntryKind.attribution.value, source.value, -(100 + place))
        add_money(figures, EntryKind.refund_reversal.value, source.value, 7)
        add_money(figures, EntryKind.payout_approved.value, source.value, 50)
        done = finish(figures)
        assert done["by_source"][source.value] == {
            "gross_fen": 100 + place,
            "refunds_fen": 7,
            "net_fen": 93 + place,
        }
        assert done["net_fen"] == 93 + place and done["paid_out_fen"] == 50
        others = [part for name, part in done["by_source"].items() if name != source]
        assert all(part == {"gross_fen": 0, "refunds_fen": 0, "net_fen": 0} for part in others)
