"""Hypothesis: for random rounds of accruals, refunds, proposals, approvals and bank answers,
no payout ever exceeds what a household accrued and no income account goes into debit; what is
in transit and what was disbursed always match the lines."""

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace import pii
from marketplace.accounts.models import Role
from marketplace.errors import Conflict, ValidationFailed
from marketplace.ledger import journal
from marketplace.payouts import proposals, service, settlement
from marketplace.payouts.models import LineStatus, PayoutLine, PayoutRun, RunStatus
from tests.payouts.conftest import actor_for, days_ago, return_file

HOUSEHOLDS = 3
who = st.integers(0, HOUSEHOLDS - 1)
fen = st.integers(1, 200_000)

rounds = st.lists(
    st.fixed_dictionaries(
        {
            "accruals": st.lists(st.tuples(who, fen, st.integers(0, 40)), max_size=4),
            "refunds": st.lists(st.tuples(who, fen), max_size=2),
            "period_end_ago": st.integers(1, 40),
            # a refund between proposal and approval: the approval must then be refused
            "refunds_before_approval": st.lists(st.tuples(who, fen), max_size=1),
            "answers": st.lists(st.booleans(), min_size=HOUSEHOLDS, max_size=HOUSEHOLDS),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=rounds)
def test_payouts_never_exceed_what_was_accrued(
    plan, session, regions, make_household, give_card, make_user, accrue, claw_back, balance
):
    # Fixtures are made once for all examples; each example runs in a savepoint of its own.
    example = session.begin_nested()
    try:
        households = [make_household(regions.village_a1) for _ in range(HOUSEHOLDS)]
        cards = [give_card(household) for household in households]
        maker = actor_for(make_user(Role.admin))
        checker = actor_for(make_user(Role.admin))
        keys = [journal.household_income(h.id) for h in households]
        accrued = [0] * HOUSEHOLDS

        def refund(index, amount):
            # A refund reverses income still owed: never more than the balance.
            amount = min(amount, -balance(keys[index]))
            if amount:
                claw_back(households[index].id, amount)
                accrued[index] -= amount

        def check():
            _check_invariants(session, households, keys, accrued, balance)

        for step in plan:
            for index, amount, ago in step["accruals"]:
                accrue(households[index].id, amount, on=days_ago(ago))
                accrued[index] += amount
            for index, amount in step["refunds"]:
                refund(index, amount)
            check()
            try:
                run = proposals.propose_run(
                    session,
                    maker,
                    {
                        "region_id": regions.county.id,
                        "period_end": days_ago(step["period_end_ago"]),
                        "project_name": "测试",
                    },
                ).run
            except (Conflict, ValidationFailed):
                continue
            for index, amount in step["refunds_before_approval"]:
                refund(index, amount)
            try:
                service.approve_run(session, checker, run.id)
            except Conflict:
                service.cancel_run(session, checker, run.id)
                check()
                continue
            check()
            sent = settlement.batch_file(
                session, checker, run.id, settlement.YIKATONG, remote_addr=None
            )
            outcomes = {
                index: ("成功", None) if ok else ("失败", "账户已销户")
                for index, ok in enumerate(step["answers"])
            }
            settlement.import_return(session, checker, run.id, return_file(sent, outcomes))
            check()
            # The failed households' cards are corrected, so a later round re-issues them.
            failed = session.scalars(
                sa.select(PayoutLine.household_id).where(
                    PayoutLine.run_id == run.id, PayoutLine.status == LineStatus.failed
                )
            ).all()
            for index, household in enumerate(households):
                if household.id in failed:
                    cards[index].card_encrypted = pii.cipher().encrypt(f"62170{run.id:014d}")
            session.flush()
    finally:
        example.rollback()


def _check_invariants(session, households, keys, accrued, balance):
    lines = session.scalars(sa.select(PayoutLine)).all()
    for index, household in enumerate(households):
        out = sum(
            line.amount_fen
            for line in lines
            if line.household_id == household.id
            and line.status in (LineStatus.in_transit, LineStatus.paid)
        )
        assert out <= accrued[index], "paid out more than accrued"
        assert balance(keys[index]) <= 0, "an income account went into debit"
        assert -balance(keys[index]) == accrued[index] - out
    assert -balance(journal.PAYOUTS_IN_TRANSIT) == sum(
        line.amount_fen for line in lines if line.status is LineStatus.in_transit
    )
    assert -balance(journal.DISBURSED) == sum(
        line.amount_fen for line in lines if line.status is LineStatus.paid
    )
    assert all(
        run.status is not RunStatus.settled
        or all(line.status in (LineStatus.paid, LineStatus.failed) for line in lines
               if line.run_id == run.id)
        for run in session.scalars(sa.select(PayoutRun))
    )  # fmt: skip
