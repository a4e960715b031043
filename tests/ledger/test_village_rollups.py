"""The village rollups (``ledger/village_rollups.py``, kept by the database): a household that
moves takes its sums to its new village; a drifted sum is found by ``flask ledger check``; and on
PostgreSQL, income written while the household moves, or two first earning rows of one
household's month written at once, leave every sum right whichever commits first. (Any sequence
of the ledger's and the registry's writes is ``test_rollups``' hypothesis test.)"""

import importlib.util
import threading
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.households.models import Household
from marketplace.ledger import village_rollups
from marketplace.ledger.models import EntryKind, HouseholdIncomeMonth
from marketplace.ledger.village_rollups import VillageIncomeMonth, VillageReachMonth
from marketplace.regions.models import Region
from marketplace.reports import reconciliation
from tests.conftest import BACKEND
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.reports.test_status_at_end import _one_household
from tests.served import served_app

MONTH = date(2026, 11, 1)


def _sums(session, village_id: int) -> tuple[int, int]:
    """A village's income of every month, and its reached households."""
    amount = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(VillageIncomeMonth.amount_fen), 0)).where(
            VillageIncomeMonth.village_id == village_id
        )
    )
    reached = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(VillageReachMonth.households), 0)).where(
            VillageReachMonth.village_id == village_id
        )
    )
    return int(amount), int(reached)


def test_a_moved_household_takes_its_sums_to_its_new_village(session, shop, money, pay, regions):
    pay((shop.sku_500g, 3))
    session.flush()
    moved = money.members[0]
    before_a1, before_b1 = (
        _sums(session, regions.village_a1.id),
        _sums(session, regions.village_b1.id),
    )
    own = session.scalar(
        sa.select(sa.func.sum(HouseholdIncomeMonth.amount_fen)).where(
            HouseholdIncomeMonth.household_id == moved.id
        )
    )
    assert own and before_a1[1] == len(money.members) and before_b1 == (0, 0)
    moved.village_id = regions.village_b1.id
    session.flush()
    assert _sums(session, regions.village_b1.id) == (own, 1)
    assert _sums(session, regions.village_a1.id) == (before_a1[0] - own, before_a1[1] - 1)
    assert village_rollups.differences(session) == []


def test_a_drifted_village_rollup_is_found_by_the_ledger_check(session, shop, money, pay):
    pay((shop.sku_500g, 2))
    session.flush()
    assert village_rollups.differences(session) == []
    row = session.execute(sa.select(VillageIncomeMonth).limit(1)).scalar_one()
    row.amount_fen += 1
    reach = session.execute(sa.select(VillageReachMonth).limit(1)).scalar_one()
    reach.households += 1
    session.flush()
    found = reconciliation.run(session).differences
    assert any(d.startswith("village income rollup: holds") for d in found)
    assert any(d.startswith("village income rollup: household rollup gives") for d in found)
    assert any(d.startswith("village reach rollup: holds") for d in found)


def _income(household_id: int, producer_id: int, amount: int) -> dict:
    return {
        "household_id": household_id,
        "month": MONTH,
        "kind": EntryKind.attribution,
        "producer_id": producer_id,
        "fund_id": 0,
        "amount_fen": -amount,
        "postings": 1,
    }


def _at_once(first, second) -> None:
    """``first`` runs in a transaction left open; ``second`` must then wait for it (its row
    lock on the household), and finishes once ``first`` commits."""
    with db.engine.connect() as holding, db.engine.connect() as waiting:
        holding.begin()
        first(holding)
        done = threading.Event()

        def run_second():
            with waiting.begin():
                second(waiting)
            done.set()

        worker = threading.Thread(target=run_second)
        worker.start()
        assert not done.wait(0.5), "the second writer waits for the household's row"
        holding.commit()
        worker.join(timeout=30)
        assert done.is_set()


def _move(household_id: int, village_id: int):
    return lambda conn: conn.execute(
        sa.update(Household).where(Household.id == household_id).values(village_id=village_id)
    )


def _write(household_id: int, producer_id: int, amount: int):
    return lambda conn: conn.execute(
        sa.insert(HouseholdIncomeMonth), [_income(household_id, producer_id, amount)]
    )


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks: PostgreSQL (SQLite has one writer)")
@pytest.mark.parametrize("income_first", [True, False])
def test_income_written_while_the_household_moves_lands_in_its_new_village(tmp_path, income_first):
    with served_app(tmp_path) as served:
        with served.session() as session:
            household_id = _one_household(session)
            old = session.get(Household, household_id).village_id
            new = _second_village(session, old)
            session.commit()
        with served.app.app_context():
            write, move = _write(household_id, 7, 1_000), _move(household_id, new)
            _at_once(*((write, move) if income_first else (move, write)))
        with served.session() as session:
            assert _sums(session, new) == (-1_000, 1)
            assert _sums(session, old) == (0, 0)
            assert village_rollups.differences(session) == []


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks: PostgreSQL (SQLite has one writer)")
def test_two_first_earnings_of_a_month_at_once_reach_the_household_once(tmp_path):
    with served_app(tmp_path) as served:
        with served.session() as session:
            household_id = _one_household(session)
            village_id = session.get(Household, household_id).village_id
            session.commit()
        with served.app.app_context():
            _at_once(_write(household_id, 7, 1_000), _write(household_id, 8, 500))
        with served.session() as session:
            assert _sums(session, village_id) == (-1_500, 1)
            assert village_rollups.differences(session) == []


def _second_village(session, village_id: int) -> int:
    village = session.get(Region, village_id)
    other = Region(
        code="2299880102", name="并发二村", level="village", path="", parent_id=village.parent_id
    )
    session.add(other)
    session.flush()
    other.path = village.path.removesuffix(f"{village.id}/") + f"{other.id}/"
    session.flush()
    return other.id


def test_the_triggers_count_as_earning_what_the_reports_do():
    """The migration's triggers name the earning kinds in SQL (a migration never imports the
    application): they must be the ledger's."""
    path = Path(__file__).parents[2] / "migrations/versions/0026_village_income_rollups.py"
    spec = importlib.util.spec_from_file_location("village_rollups_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    named = set(migration.EARNING.strip("()").replace("'", "").split(", "))
    assert named == {kind.value for kind in village_rollups.EARNING}
