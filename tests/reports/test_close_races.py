"""Closing a month while the ledger is being written: an entry dated into the month either went
in before the close (and is in the frozen report) or saw the close (and moved to the next open
month). Never both, never neither: the frozen report equals the month's postings forever.

Committed data on a database of its own; at each round a closer and a writer, started together
or one after the other with the first holding its transaction open (without the advisory lock,
"writer first" freezes a report that misses the entry committed just after it). On PostgreSQL
the advisory lock is what is tested; on SQLite writers queue on the database.
"""

import threading
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace import pii
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role, User
from marketplace.clock import shanghai_today
from marketplace.db import sqlite_write_intent
from marketplace.extensions import db
from marketplace.households.models import Household, HouseholdStatus, HouseholdStatusChange
from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import EntryKind, JournalEntry, LedgerAccount, Posting
from marketplace.periods import month_of
from marketplace.producers.models import Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from marketplace.reports import closing
from marketplace.reports.models import ReportSnapshot
from tests.served import served_app

ROUNDS = 9


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("close-races")) as served:
        yield served


def _region(session, code, name, level, parent=None) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent and parent.id, path="")
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    return region


def _setup(served, last_month: date):
    """A county, a township with a village per round, a household and a co-op in each, every
    household owed 10.00 yuan of dividends in the month already; an admin who closes."""
    rounds = []
    with served.session() as session:
        cipher = pii.cipher()
        county = _region(session, "229988000000", "竞速县", RegionLevel.county)
        town = _region(session, "229988001000", "竞速镇", RegionLevel.township, county)
        admin = User(
            username="closer", password_hash="unused", display_name="关账", role=Role.admin
        )
        session.add(admin)
        for n in range(ROUNDS):
            village = _region(
                session, f"229988001{n + 1:03d}", f"竞速{n}村", RegionLevel.village, town
            )
            id_number = f"22052419800101{n:03d}X"
            household = Household(
                registry_number=f"229988001{n:03d}0001",
                head_name="王春花",
                head_id_encrypted=cipher.encrypt(id_number),
                head_id_lookup=cipher.lookup_hash(id_number),
                head_id_masked=pii.mask(id_number),
                members_count=3,
                village_id=village.id,
                poverty_causes=["illness"],
                status=HouseholdStatus.lifted,
            )
            station = Station(code=f"CLOSE{n}", name=f"竞速{n}村服务站", village_id=village.id)
            session.add(station)
            session.flush()
            co_op = Producer(
                kind=ProducerKind.cooperative,
                name=f"竞速合作社{n}",
                region_id=village.id,
                station_id=station.id,
            )
            session.add_all([household, co_op])
            session.flush()
            session.add(
                HouseholdStatusChange(
                    household_id=household.id,
                    status=household.status,
                    effective_from=date(2016, 1, 1),
                )
            )
            journal.write_entries(session, [_dividend(co_op.id, household.id, last_month, 1000)])
            rounds.append((village.id, household.id, co_op.id))
        session.flush()
        closer = Actor(user_id=admin.id, username=admin.username, role=Role.admin)
    return closer, rounds


def _dividend(co_op_id, household_id, day, amount_fen) -> Entry:
    return Entry(
        kind=EntryKind.minimum_dividend,
        effective_on=day,
        memo="保底分红",
        legs=[
            Leg(journal.coop_retained(co_op_id), amount_fen),
            Leg(journal.household_income(household_id), -amount_fen, household_id=household_id),
        ],
    )


def _in_a_thread(app, errors, work, *, begin, hold=None):
    """``work`` in a transaction of its own: after ``begin`` returns, and with the transaction
    held open until ``hold`` returns (if given), then committed."""

    def run():
        # As a writing request does: on SQLite, take the write lock when the transaction begins.
        sqlite_write_intent.set(True)
        with app.app_context():
            try:
                begin()
                work(db.session)
                if hold:
                    hold()
                db.session.commit()
            except Exception as error:  # reported by the test, not lost in the thread
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    return threading.Thread(target=run)


#: How each round starts: the two together, or one holding its transaction open a while once it
#: has done its work, so that the other runs into it (the interleavings a missing lock loses).
ORDERS = ("together", "writer first", "closer first")
#: How long the first holds its transaction open: long enough for the other to run into it.
HOLD_SECONDS = 0.5


def test_an_entry_written_during_the_close_is_frozen_in_the_month_or_moved_out_of_it(served):
    today = shanghai_today()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    period = month_of(f"{last_month:%Y-%m}")
    closer, rounds = _setup(served, last_month)

    for number, (village_id, household_id, co_op_id) in enumerate(rounds):
        order, errors = ORDERS[number % len(ORDERS)], []
        barrier, first_done = threading.Barrier(2), threading.Event()

        def together(barrier=barrier):
            barrier.wait(timeout=30)

        def after_the_first(first_done=first_done):
            first_done.wait(timeout=30)

        def hold_open(first_done=first_done):
            first_done.set()
            time.sleep(HOLD_SECONDS)

        def close(session, v=village_id):
            closing.close_month(session, closer, v, period)

        def write(session, h=household_id, c=co_op_id):
            journal.write_entries(session, [_dividend(c, h, last_month.replace(day=15), 777)])

        if order == "together":
            threads = [
                _in_a_thread(served.app, errors, close, begin=together),
                _in_a_thread(served.app, errors, write, begin=together),
            ]
        elif order == "writer first":
            threads = [
                _in_a_thread(served.app, errors, write, begin=lambda: None, hold=hold_open),
                _in_a_thread(served.app, errors, close, begin=after_the_first),
            ]
        else:
            threads = [
                _in_a_thread(served.app, errors, close, begin=lambda: None, hold=hold_open),
                _in_a_thread(served.app, errors, write, begin=after_the_first),
            ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors

    outcomes = set()
    with served.session() as session:
        for village_id, household_id, _ in rounds:
            frozen = session.execute(
                sa.select(ReportSnapshot.report).where(
                    ReportSnapshot.region_id == village_id, ReportSnapshot.kind == "income"
                )
            ).scalar_one()
            postings = session.execute(
                sa.select(JournalEntry.effective_on, JournalEntry.adjusts_month, Posting.amount_fen)
                .join(Posting, Posting.entry_id == JournalEntry.id)
                .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
                .where(LedgerAccount.household_id == household_id)
            ).all()
            in_month = -sum(
                amount for day, _, amount in postings if day.replace(day=1) == last_month
            )
            # The frozen report is the month's postings, to the fen, whichever came first.
            assert frozen["totals"]["net_fen"] == in_month
            # Nothing lost: both entries are in the ledger, the race's in one month or the next.
            assert -sum(amount for _, _, amount in postings) == 1000 + 777
            raced = [row for row in postings if row.amount_fen == -777]
            assert len(raced) == 1
            day, adjusts, _ = raced[0]
            if adjusts is None:
                assert day == last_month.replace(day=15) and in_month == 1777
                outcomes.add("before the close")
            else:
                assert adjusts == last_month and day == today.replace(day=1)
                assert in_month == 1000
                outcomes.add("moved past the close")
    print("outcomes seen:", sorted(outcomes))
