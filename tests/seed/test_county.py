"""The reports benchmark's county generator: balanced entries, a ledger that reconciles, and an
income report that agrees with the generated postings."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.households.models import Household
from marketplace.ledger.models import AccountKind, JournalEntry, LedgerAccount, Posting
from marketplace.periods import Period, next_month
from marketplace.regions.models import Region
from marketplace.reports import reconciliation
from marketplace.reports.income import build_report
from seed.county import COUNTY_CODE, CountyExists, generate, window


@pytest.fixture
def county(session):
    made = generate(session, households=200, months=2)
    return made, session.execute(sa.select(Region).where(Region.code == COUNTY_CODE)).scalar_one()


def test_every_entry_balances_and_the_ledger_reconciles(session, county):
    made, _ = county
    assert made["households"] == 200 and made["postings"] > 0
    unbalanced = session.execute(
        sa.select(Posting.entry_id)
        .group_by(Posting.entry_id)
        .having(sa.func.sum(Posting.amount_fen) != 0)
    ).all()
    assert unbalanced == []
    entries = session.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    assert entries == made["journal_entries"]
    report = reconciliation.run(session)
    assert report.ok, report.differences


def test_the_county_report_totals_are_the_postings(session, county):
    _, region = county
    months = window(2)
    period = Period("both months", "quarter", months[0], next_month(months[-1]) - timedelta(days=1))
    report = build_report(session, region, period)

    def summed(*kinds):
        return -session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Posting.amount_fen), 0))
            .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .join(Household, Household.id == Posting.household_id)
            .join(Region, Region.id == Household.village_id)
            .where(
                LedgerAccount.kind == AccountKind.household_income,
                Region.path.startswith(region.path),
                Posting.effective_on.between(period.start, period.end),
                JournalEntry.kind.in_(kinds),
            )
        )

    totals = report["totals"]
    assert totals["net_fen"] == summed(
        "attribution", "refund_reversal", "fund_disbursement", "minimum_dividend"
    )
    assert totals["refunds_fen"] == -summed("refund_reversal")
    assert totals["paid_out_fen"] == -summed("payout_approved", "payout_returned")
    assert totals["households_registered"] == 200
    assert sum(s["net_fen"] for s in totals["by_source"].values()) == totals["net_fen"]
    for source in ("own_sales", "coop_dividends", "enterprise_linking", "assistance_funds"):
        assert totals["by_source"][source]["gross_fen"] > 0, source


def test_a_second_run_refuses(session, county):
    with pytest.raises(CountyExists):
        generate(session, households=200, months=2)
