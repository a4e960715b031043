"""Two minimum-dividend runs at once, each in its own transaction on a served app's database:
the co-op's retained earnings are paid out once, never twice (the runs take turns on the
retained account's lock, and the second finds the first's entry)."""

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from marketplace import pii
from marketplace.accounts.models import Role, User
from marketplace.clock import shanghai_today
from marketplace.db import sqlite_write_intent
from marketplace.extensions import db
from marketplace.households.models import Household, HouseholdStatus
from marketplace.ledger import dividends, journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import BenefitRule, EntryKind, JournalEntry, RuleKind, RuleStatus
from marketplace.producers.models import CooperativeMembership, Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from tests.served import served_app

YEAR = shanghai_today().year
RETAINED_FEN = 6000
GUARANTEED_FEN = 5000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("dividend-races")) as served:
        yield served


def _region(session, code, name, level, parent=None) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent and parent.id, path="")
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    return region


def _household(session, village, n: int) -> Household:
    cipher = pii.cipher()
    id_number = f"22052419800101{n:03d}X"
    household = Household(
        registry_number=f"229977001{n:03d}0001",
        head_name=f"社员{n}",
        head_id_encrypted=cipher.encrypt(id_number),
        head_id_lookup=cipher.lookup_hash(id_number),
        head_id_masked=pii.mask(id_number),
        members_count=3,
        village_id=village.id,
        poverty_causes=["illness"],
        status=HouseholdStatus.lifted,
    )
    session.add(household)
    session.flush()
    return household


def _setup(served, tag: int):
    """A co-op guaranteeing each of its two members 50.00 yuan a year, 60.00 retained."""
    with served.session() as session:
        county = _region(session, f"2299{tag:02d}000000", "分红县", RegionLevel.county)
        town = _region(session, f"2299{tag:02d}001000", "分红镇", RegionLevel.township, county)
        village = _region(session, f"2299{tag:02d}001001", "分红村", RegionLevel.village, town)
        admin = User(
            username=f"rules-{tag}", password_hash="unused", display_name="管理", role=Role.admin
        )
        station = Station(code=f"DIV{tag}", name=f"分红服务站{tag}", village_id=village.id)
        session.add_all([admin, station])
        session.flush()
        co_op = Producer(
            kind=ProducerKind.cooperative,
            name=f"分红合作社{tag}",
            region_id=village.id,
            station_id=station.id,
        )
        session.add(co_op)
        session.flush()
        members = [_household(session, village, tag * 10 + n) for n in range(3)]
        for member in members[:2]:
            session.add(
                CooperativeMembership(
                    cooperative_id=co_op.id,
                    household_id=member.id,
                    shares=1,
                    joined_on=date(2016, 1, 1),
                )
            )
        session.add(
            BenefitRule(
                producer_id=co_op.id,
                version=1,
                kind=RuleKind.cooperative,
                status=RuleStatus.approved,
                effective_from=date(2016, 1, 1),
                retained_bp=2000,
                minimum_dividend_fen=GUARANTEED_FEN,
                created_by_id=admin.id,
            )
        )
        # What the co-op retained in earlier years (the third household's account stands in
        # for the sales it came from).
        funder = members[2]
        journal.write_entries(
            session,
            [
                Entry(
                    kind=EntryKind.minimum_dividend,
                    effective_on=date(YEAR - 1, 6, 30),
                    memo="earlier retained earnings",
                    legs=[
                        Leg(
                            journal.household_income(funder.id),
                            RETAINED_FEN,
                            household_id=funder.id,
                        ),
                        Leg(journal.coop_retained(co_op.id), -RETAINED_FEN),
                    ],
                )
            ],
        )
        return co_op.id, [member.id for member in members[:2]]


def _run_together(app, runs: int) -> list:
    barrier, errors = threading.Barrier(runs), []

    def run():
        sqlite_write_intent.set(True)  # as the command does on SQLite: writer from the start
        with app.app_context():
            try:
                barrier.wait()
                dividends.top_up(db.session, year=YEAR)
                db.session.commit()
            except Exception as error:  # reported by the test, not lost in the thread
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.parametrize("round_", range(3))
def test_two_runs_at_once_pay_the_retained_earnings_once(served, round_):
    co_op_id, members = _setup(served, 60 + round_)
    assert _run_together(served.app, 2) == []
    with served.session() as session:
        memo = f"minimum dividend {YEAR} cooperative {co_op_id}"
        entries = session.execute(
            sa.select(sa.func.count(JournalEntry.id)).where(JournalEntry.memo == memo)
        ).scalar_one()
        assert entries == 1
        retained_key = journal.coop_retained(co_op_id)
        keys = [retained_key, *(journal.household_income(m) for m in members)]
        balances = journal.balances(session, keys)
        # 100.00 of shortfalls, 60.00 retained: shared by shortfall, and never more.
        assert balances[retained_key] == 0
        assert [-balances[journal.household_income(m)] for m in members] == [3000, 3000]
