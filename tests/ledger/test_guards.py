"""The database itself keeps the ledger honest: postings and entries cannot be changed or
removed, and on PostgreSQL an entry that does not balance cannot be committed."""

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg, UnbalancedEntry
from marketplace.ledger.models import EntryKind, JournalEntry, Posting

DAY = date(2026, 11, 1)


def contribution(fund, amount=5000):
    return Entry(
        kind=EntryKind.fund_contribution,
        effective_on=DAY,
        legs=[
            Leg(journal.fund_source(fund.id), amount),
            Leg(journal.assistance_fund(fund.id), -amount),
        ],
    )


@pytest.fixture
def fund(session, regions, make_user):
    from marketplace.accounts.models import Role
    from marketplace.ledger.models import AssistanceFund, FundSource

    fund = AssistanceFund(
        name="蓝莓节助农基金",
        source=FundSource.campaign,
        region_id=regions.county.id,
        created_by_id=make_user(Role.admin).id,
    )
    session.add(fund)
    session.flush()
    return fund


def test_the_application_refuses_an_unbalanced_entry(session, fund):
    entry = contribution(fund)
    entry.legs[1].amount_fen = -4999
    with pytest.raises(UnbalancedEntry):
        journal.write_entries(session, [entry])
    assert session.execute(sa.select(sa.func.count()).select_from(Posting)).scalar_one() == 0


def test_float_amounts_are_refused(session, fund):
    entry = contribution(fund)
    entry.legs[0].amount_fen = 5000.0
    with pytest.raises(UnbalancedEntry):
        journal.write_entries(session, [entry])


@pytest.mark.parametrize(
    "statement", ["UPDATE postings SET amount_fen = 1", "DELETE FROM postings"]
)
def test_postings_cannot_be_changed_or_removed(session, fund, statement):
    journal.write_entries(session, [contribution(fund)])
    with pytest.raises(DBAPIError) as refused, session.begin_nested():
        session.execute(sa.text(statement))
    assert "append-only" in str(refused.value)


@pytest.mark.parametrize(
    "statement", ["UPDATE journal_entries SET memo = 'x'", "DELETE FROM journal_entries"]
)
def test_entries_cannot_be_changed_or_removed(session, fund, statement):
    journal.write_entries(session, [contribution(fund)])
    with pytest.raises(DBAPIError) as refused, session.begin_nested():
        session.execute(sa.text(statement))
    assert "append-only" in str(refused.value)


@pytest.mark.postgres
def test_postgresql_refuses_to_commit_an_unbalanced_entry(session, fund):
    (entry_id,) = journal.write_entries(session, [contribution(fund)])
    # Behind the application's back, one more posting that unbalances the entry.
    account = session.execute(sa.select(Posting.account_id).limit(1)).scalar_one()
    with pytest.raises(DBAPIError) as refused, session.begin_nested():
        session.execute(
            sa.insert(Posting).values(
                entry_id=entry_id, account_id=account, amount_fen=1, effective_on=DAY
            )
        )
        # The check is deferred to commit; make it fire now, inside the test's transaction.
        session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert "does not balance" in str(refused.value)


@pytest.mark.postgres
def test_postgresql_accepts_a_balanced_entry_at_commit_time(session, fund):
    journal.write_entries(session, [contribution(fund), contribution(fund, 700)])
    session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert session.execute(sa.select(sa.func.count()).select_from(JournalEntry)).scalar_one() == 2


@pytest.mark.postgres
def test_postgresql_checks_an_old_entry_again_when_a_posting_joins_it(app, database_url):
    """A posting slipped into an entry that an earlier transaction committed is refused."""
    from tests.served import ledger_guards_lifted

    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            entry_id = connection.execute(
                sa.insert(JournalEntry)
                .values(kind="fund_contribution", effective_on=DAY, created_at=sa.func.now())
                .returning(JournalEntry.id)
            ).scalar_one()
            account_id = connection.execute(
                sa.text(
                    "INSERT INTO ledger_accounts (key, kind, currency, created_at) "
                    "VALUES ('platform_fee', 'platform_fee', 'CNY', now()) RETURNING id"
                )
            ).scalar_one()
            connection.execute(
                sa.insert(Posting),
                [
                    {
                        "entry_id": entry_id,
                        "account_id": account_id,
                        "amount_fen": amount,
                        "effective_on": DAY,
                    }
                    for amount in (5, -5)
                ],
            )
        with pytest.raises(DBAPIError) as refused, engine.begin() as connection:
            connection.execute(
                sa.insert(Posting).values(
                    entry_id=entry_id, account_id=account_id, amount_fen=7, effective_on=DAY
                )
            )
        assert "does not balance" in str(refused.value)
    finally:
        from sqlalchemy.orm import Session

        with Session(engine) as cleanup:
            with ledger_guards_lifted(cleanup):
                cleanup.execute(sa.text("DELETE FROM postings"))
                cleanup.execute(sa.text("DELETE FROM journal_entries"))
                cleanup.execute(sa.text("DELETE FROM ledger_accounts WHERE key = 'platform_fee'"))
            cleanup.commit()
        engine.dispose()
