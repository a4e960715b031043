"""A household's status at a period's end, as the reports count it: ``StatusAtEnd`` (the
household's ``latest_status``, kept by a database trigger, unless it has a change after the end)
must equal the plain lookup of its history (``status_at_end_reference``) for any history, written
one change at a time or many in one statement, back-dated, same-day or in the future; and two
appends to one household at once must leave the newer change's status, whichever commits first."""

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace import pii
from marketplace.extensions import db
from marketplace.households.models import Household, HouseholdStatus, HouseholdStatusChange
from marketplace.households.status import latest_status_differences
from marketplace.periods import Period
from marketplace.regions.models import Region
from marketplace.reports import reconciliation
from marketplace.reports.income_figures import StatusAtEnd, status_at_end_reference
from tests.conftest import BACKEND
from tests.served import served_app

_DAYS = st.dates(min_value=date(2015, 6, 1), max_value=date(2031, 12, 31))
_change = st.tuples(st.sampled_from(list(HouseholdStatus)), _DAYS)
_history = st.lists(st.lists(_change, min_size=0, max_size=5), min_size=1, max_size=4)
_ends = st.lists(_DAYS, min_size=1, max_size=4)


def _row(household_id: int, status: HouseholdStatus, day: date) -> dict:
    return {
        "household_id": household_id,
        "status": status,
        "monitoring_type": "marginal" if status is HouseholdStatus.monitoring else None,
        "effective_from": day,
    }


def _statuses(session, ids: list[int], end: date) -> tuple[dict, dict]:
    period = Period(label="test", kind="span", start=date(2000, 1, 1), end=end)
    fast = StatusAtEnd(period)
    listed = fast.joined(
        sa.select(
            Household.id,
            fast.column.label("fast"),
            status_at_end_reference(period).label("reference"),
        )
    ).where(Household.id.in_(ids))
    rows = session.execute(listed).all()
    return {r.id: r.fast for r in rows}, {r.id: r.reference for r in rows}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=_history, ends=_ends, in_one_statement=st.booleans())
def test_status_at_any_end_is_the_latest_change_by_then(
    session, regions, make_household, histories, ends, in_one_statement
):
    example = session.begin_nested()
    try:
        households = [make_household(regions.village_a1) for _ in histories]
        ids = [household.id for household in households]
        rows = [
            _row(household.id, status, day)
            for household, history in zip(households, histories, strict=True)
            for status, day in history
        ]
        if in_one_statement and rows:
            session.execute(sa.insert(HouseholdStatusChange), rows)
        else:
            for row in rows:
                session.add(HouseholdStatusChange(**row))
                session.flush()
        session.expire_all()
        latest = dict(
            session.execute(
                sa.select(Household.id, Household.latest_status).where(Household.id.in_(ids))
            ).all()
        )
        for household_id in ids:
            newest = session.execute(
                sa.select(HouseholdStatusChange.status)
                .where(HouseholdStatusChange.household_id == household_id)
                .order_by(
                    HouseholdStatusChange.effective_from.desc(), HouseholdStatusChange.id.desc()
                )
                .limit(1)
            ).scalar_one()
            assert latest[household_id] == newest
        # make_household's own first change is dated 2016-01-01: ends before it have none.
        for end in [*ends, date(2015, 12, 31), date(2016, 1, 1)]:
            fast, reference = _statuses(session, ids, end)
            assert fast == reference, end
    finally:
        example.rollback()


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks: PostgreSQL (SQLite has one writer)")
def test_two_appends_at_once_leave_the_newer_status(tmp_path):
    """The newer change commits first while the older one's insert waits on the household's
    row: the trigger must read the history after the wait, not keep the older change's status."""
    with served_app(tmp_path) as served:
        with served.session() as session:
            household_id = _one_household(session)
        with served.app.app_context():
            engine = db.engine
            with engine.connect() as newer, engine.connect() as older:
                newer.begin()
                newer.execute(
                    sa.insert(HouseholdStatusChange),
                    [_row(household_id, HouseholdStatus.lifted, date(2025, 3, 1))],
                )  # the trigger now holds the household's row
                done = threading.Event()

                def append_older():
                    with older.begin():
                        older.execute(
                            sa.insert(HouseholdStatusChange),
                            [_row(household_id, HouseholdStatus.in_poverty, date(2024, 1, 1))],
                        )
                    done.set()

                worker = threading.Thread(target=append_older)
                worker.start()
                assert not done.wait(0.5), "the older append waits for the household's row"
                newer.commit()
                worker.join(timeout=30)
                assert done.is_set()
                latest = newer.execute(
                    sa.select(Household.latest_status).where(Household.id == household_id)
                ).scalar_one()
    assert latest is HouseholdStatus.lifted


def _one_household(session) -> int:
    village = None
    for code, level in (
        ("22998800", "county"),
        ("22998801", "township"),
        ("2299880101", "village"),
    ):
        region = Region(
            code=code, name=f"并发{level}", level=level, path="", parent_id=village and village.id
        )
        session.add(region)
        session.flush()
        region.path = f"{village.path if village else '/'}{region.id}/"
        village = region
    cipher = pii.cipher()
    id_number = "220524198001010017"
    household = Household(
        registry_number="2299880101010001",
        head_name="王春花",
        head_id_encrypted=cipher.encrypt(id_number),
        head_id_lookup=cipher.lookup_hash(id_number),
        head_id_masked=pii.mask(id_number),
        members_count=3,
        village_id=village.id,
        poverty_causes=["illness"],
        status=HouseholdStatus.in_poverty,
    )
    session.add(household)
    session.flush()
    session.add(
        HouseholdStatusChange(**_row(household.id, HouseholdStatus.in_poverty, date(2016, 1, 1)))
    )
    session.flush()
    return household.id


def test_a_drifted_latest_status_is_found_by_the_ledger_check(session, regions, make_household):
    household = make_household(regions.village_a1, status=HouseholdStatus.lifted)
    assert household.id not in _listed(session)
    session.execute(
        sa.update(Household)
        .where(Household.id == household.id)
        .values(latest_status=HouseholdStatus.in_poverty)
    )
    assert household.id in _listed(session)
    finding = f"household {household.id}: latest_status is in_poverty, its latest change says"
    assert any(d.startswith(finding) for d in reconciliation.run(session).differences)


def _listed(session) -> set[int]:
    return {
        int(d.split(":")[0].removeprefix("household "))
        for d in latest_status_differences(session, shown=1000)
    }
