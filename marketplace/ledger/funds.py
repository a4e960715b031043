"""Assistance funds: money raised for households, and handed to them.

A contribution is Dr fund_source / Cr assistance_fund; a disbursement is Dr assistance_fund /
Cr each household's income, so fund money reaches households through the same accounts, trails
and payouts as sales income. A fund's balance is what it may still give; a disbursement never
exceeds it, even when two are made at once.
"""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.clock import shanghai_today
from marketplace.db import page_of
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.households.models import Household
from marketplace.ledger import journal
from marketplace.ledger.allocation import largest_remainder
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import (
    AssistanceFund,
    DisbursementMode,
    EntryKind,
    FundContribution,
    FundDisbursement,
    FundDisbursementLine,
)
from marketplace.ledger.scoping import FUNDS
from marketplace.reasons import reason
from marketplace.regions.models import Region
from marketplace.regions.service import in_subtree_of

DISBURSEMENT_SCOPE = "fund_disbursement"

CREATING_BY_ADMINS = reason("fund.create_admin_only", "Creating a fund is done by admins.")
CONTRIBUTING_BY_ADMINS = reason(
    "fund.contribute_admin_only", "Recording a contribution is done by admins."
)
DISBURSING_BY_ADMINS = reason("fund.disburse_admin_only", "Disbursing a fund is done by admins.")
NO_SUCH_REGION = reason("fund.no_such_region", "no region with id {region_id}")
NAME_TAKEN = reason("fund.name_taken", "another fund has this name")
REFERENCE_WITH_OTHER_DETAILS = reason(
    "contribution.reference_other_details",
    "Reference {reference!r} is already recorded for this fund with other details.",
)
REFERENCE_WITH_OTHER_AMOUNT = reason(
    "contribution.reference_other_amount_or_contributor",
    "already recorded with another amount or contributor",
)
FUND_BOUND = reason(
    "fund.bound_to_pledge",
    "Fund {fund_id} holds a pledge's money for the households it names: it gives only through "
    "the pledge's approval, and takes nothing else.",
)
HOUSEHOLD_OUTSIDE_REGION = reason(
    "fund.household_outside_region", "no household {household_id} in the fund's region"
)
TOTAL_BELOW_ONE_FEN_EACH = reason(
    "fund.total_below_one_fen_each", "too small to give every household at least 1 fen"
)
BALANCE_TOO_LOW = reason(
    "fund.balance_too_low",
    "The fund holds {balance_fen} fen; this disbursement needs {requested_fen} fen, "
    "{shortfall_fen} fen more.",
)


def create_fund(session, actor: Actor, data: dict) -> AssistanceFund:
    if not actor.is_admin:
        raise PermissionDenied(CREATING_BY_ADMINS())
    errors = {}
    if session.get(Region, data["region_id"]) is None:
        errors["region_id"] = [NO_SUCH_REGION(region_id=data["region_id"])]
    if session.execute(
        sa.select(AssistanceFund.id).where(AssistanceFund.name == data["name"])
    ).first():
        errors["name"] = [NAME_TAKEN()]
    if errors:
        raise ValidationFailed(errors)
    fund = AssistanceFund(created_by_id=actor.user_id, **data)
    session.add(fund)
    session.flush()
    return fund


def list_funds(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = FUNDS.restrict(sa.select(AssistanceFund), actor)
    if filters.get("source") is not None:
        stmt = stmt.where(AssistanceFund.source == filters["source"])
    if filters.get("q"):
        stmt = stmt.where(AssistanceFund.name.contains(filters["q"], autoescape=True))
    return page_of(session, stmt, order_by=[AssistanceFund.id], page=page, page_size=page_size)


def fund_balance(session, fund_id: int) -> int:
    """What the fund may still give (its account is credit-normal, shown positive)."""
    return -journal.balances(session, [journal.assistance_fund(fund_id)])[
        journal.assistance_fund(fund_id)
    ]


def get_fund(session, actor: Actor, fund_id: int) -> dict:
    fund = FUNDS.get(session, fund_id, actor)
    contributed, disbursed = session.execute(
        sa.select(
            sa.select(sa.func.coalesce(sa.func.sum(FundContribution.amount_fen), 0))
            .where(FundContribution.fund_id == fund_id)
            .scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(FundDisbursement.total_fen), 0))
            .where(FundDisbursement.fund_id == fund_id)
            .scalar_subquery(),
        )
    ).one()
    return {
        **{column: getattr(fund, column) for column in _FUND_COLUMNS},
        "balance_fen": fund_balance(session, fund_id),
        "contributed_fen": int(contributed),
        "disbursed_fen": int(disbursed),
        "currency": "CNY",
    }


_FUND_COLUMNS = (
    "id",
    "name",
    "source",
    "region_id",
    "description",
    "bound",
    "created_by_id",
    "created_at",
)


# --- contributions ---------------------------------------------------------------------------


def contribute(session, actor: Actor, fund_id: int, data: dict) -> tuple[FundContribution, bool]:
    """Record money received. The reference identifies it: sending the same contribution again
    returns the first one (``True`` for a replay); the same reference with other details is a
    409, since two receipts cannot share a number."""
    if not actor.is_admin:
        raise PermissionDenied(CONTRIBUTING_BY_ADMINS())
    fund = FUNDS.get(session, fund_id, actor)
    _check_unbound(fund)
    earlier = _contribution(session, fund.id, data["reference"])
    if earlier is None:
        try:
            with session.begin_nested():
                contribution = record_contribution(
                    session,
                    fund.id,
                    payer_account=journal.fund_source(fund.id),
                    created_by_id=actor.user_id,
                    **data,
                )
            return contribution, False
        except IntegrityError:
            earlier = _contribution(session, fund.id, data["reference"])
            if earlier is None:
                raise
    if (earlier.amount_fen, earlier.contributor) != (data["amount_fen"], data["contributor"]):
        raise Conflict(
            REFERENCE_WITH_OTHER_DETAILS(reference=data["reference"]),
            errors={"reference": [REFERENCE_WITH_OTHER_AMOUNT()]},
        )
    return earlier, True


def record_contribution(
    session,
    fund_id: int,
    *,
    payer_account: str,
    amount_fen: int,
    contributor: str,
    reference: str,
    created_by_id: int | None,
) -> FundContribution:
    """Money into the fund: Dr the payer's account (an outside source's, or a producer's
    payable when it pledges from its proceeds) / Cr the fund. The caller authorizes."""
    contribution = FundContribution(
        fund_id=fund_id,
        amount_fen=amount_fen,
        contributor=contributor,
        reference=reference,
        created_by_id=created_by_id,
        currency="CNY",
    )
    session.add(contribution)
    session.flush()
    journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.fund_contribution,
                effective_on=shanghai_today(),
                fund_contribution_id=contribution.id,
                created_by_id=created_by_id,
                memo=f"{contributor} {reference}"[:300],
                legs=[
                    Leg(payer_account, amount_fen),
                    Leg(journal.assistance_fund(fund_id), -amount_fen),
                ],
            )
        ],
    )
    return contribution


def _check_unbound(fund: AssistanceFund) -> None:
    if fund.bound:
        raise Conflict(FUND_BOUND(fund_id=fund.id))


def _contribution(session, fund_id: int, reference: str) -> FundContribution | None:
    return session.execute(
        sa.select(FundContribution).where(
            FundContribution.fund_id == fund_id, FundContribution.reference == reference
        )
    ).scalar_one_or_none()


def list_contributions(session, actor: Actor, fund_id: int, *, page: int, page_size: int):
    FUNDS.get(session, fund_id, actor)
    return page_of(
        session,
        sa.select(FundContribution).where(FundContribution.fund_id == fund_id),
        order_by=[FundContribution.id],
        page=page,
        page_size=page_size,
    )


# --- disbursements ---------------------------------------------------------------------------


def split(data: dict) -> list[tuple[int, int | None, int]]:
    """``(household_id, weight, amount_fen)`` per household, by household id; the amounts sum
    to the total, to the fen."""
    if data["mode"] is DisbursementMode.fixed:
        return [
            (household_id, None, data["amount_each_fen"])
            for household_id in sorted(data["household_ids"])
        ]
    weights = {h["household_id"]: h["weight"] for h in data["households"]}
    parts = largest_remainder(data["total_fen"], weights.items())
    return [
        (household_id, weights[household_id], parts[household_id]) for household_id in sorted(parts)
    ]


def _lock_fund(session, fund_id: int) -> None:
    # A no-op UPDATE takes the row's write lock on PostgreSQL and the database's on SQLite, so
    # of two disbursements from one fund the second reads the balance after the first.
    session.execute(
        sa.update(AssistanceFund)
        .where(AssistanceFund.id == fund_id)
        .values(name=AssistanceFund.name)
        .execution_options(synchronize_session=False)
    )


def disburse(session, actor: Actor, fund_id: int, data: dict) -> FundDisbursement:
    if not actor.is_admin:
        raise PermissionDenied(DISBURSING_BY_ADMINS())
    fund = FUNDS.get(session, fund_id, actor)
    _check_unbound(fund)
    parts = split(data)
    field = "household_ids" if data["mode"] is DisbursementMode.fixed else "households"
    wanted = [household_id for household_id, _, _ in parts]
    reachable = set(
        session.execute(
            sa.select(Household.id).where(
                Household.id.in_(wanted), in_subtree_of(Household.village_id, fund.region_id)
            )
        ).scalars()
    )
    outside = [household_id for household_id in wanted if household_id not in reachable]
    if outside:
        raise ValidationFailed({field: [HOUSEHOLD_OUTSIDE_REGION(household_id=i) for i in outside]})
    if any(amount <= 0 for _, _, amount in parts):
        raise ValidationFailed({"total_fen": [TOTAL_BELOW_ONE_FEN_EACH()]})
    return record_disbursement(
        session,
        fund.id,
        parts,
        mode=data["mode"],
        memo=data["memo"],
        created_by_id=actor.user_id,
    )


def record_disbursement(
    session, fund_id: int, parts, *, mode: DisbursementMode, memo: str, created_by_id
) -> FundDisbursement:
    """Hand ``parts`` (``(household_id, weight, amount_fen)``) out of the fund: Dr the fund /
    Cr each household's income, never beyond the fund's balance (409 with the figures), even
    when two disbursements run at once. The caller authorizes and checks the households."""
    total = sum(amount for _, _, amount in parts)
    _lock_fund(session, fund_id)
    balance = fund_balance(session, fund_id)
    if total > balance:
        raise Conflict(
            BALANCE_TOO_LOW(
                balance_fen=balance, requested_fen=total, shortfall_fen=total - balance
            ),
            balance_fen=balance,
            requested_fen=total,
            shortfall_fen=total - balance,
        )
    disbursement = FundDisbursement(
        fund_id=fund_id, mode=mode, total_fen=total, memo=memo, created_by_id=created_by_id
    )
    session.add(disbursement)
    session.flush()
    session.execute(
        sa.insert(FundDisbursementLine),
        [
            {
                "disbursement_id": disbursement.id,
                "household_id": household_id,
                "weight": weight,
                "amount_fen": amount,
            }
            for household_id, weight, amount in parts
        ],
    )
    journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.fund_disbursement,
                effective_on=shanghai_today(),
                fund_disbursement_id=disbursement.id,
                created_by_id=created_by_id,
                memo=memo,
                legs=[
                    Leg(journal.assistance_fund(fund_id), total),
                    *(
                        Leg(
                            journal.household_income(household_id),
                            -amount,
                            household_id=household_id,
                        )
                        for household_id, _, amount in parts
                    ),
                ],
            )
        ],
    )
    return load_disbursement(session, disbursement.id)


def disburse_once(
    session, actor: Actor, fund_id: int, data: dict, *, idempotency_key: str | None
) -> tuple[FundDisbursement, bool]:
    """``disburse`` behind an optional Idempotency-Key: a retry after a timeout gets the first
    disbursement back instead of paying every household twice."""
    if idempotency_key is None:
        return disburse(session, actor, fund_id, data), False
    body = {"fund_id": fund_id, **{k: v for k, v in data.items() if k != "mode"}}
    body["mode"] = data["mode"].value

    def replay(disbursement_id: int) -> FundDisbursement:
        FUNDS.get(session, fund_id, actor)  # a replay is scoped too
        return load_disbursement(session, disbursement_id)

    return idempotency.perform_once(
        session,
        user_id=actor.user_id,
        scope=DISBURSEMENT_SCOPE,
        key=idempotency_key,
        body=body,
        work=lambda: disburse(session, actor, fund_id, data),
        replay=replay,
    )


def load_disbursement(session, disbursement_id: int) -> FundDisbursement:
    return session.execute(
        sa.select(FundDisbursement)
        .where(FundDisbursement.id == disbursement_id)
        .options(selectinload(FundDisbursement.lines))
    ).scalar_one()


def list_disbursements(session, actor: Actor, fund_id: int, *, page: int, page_size: int):
    FUNDS.get(session, fund_id, actor)
    return page_of(
        session,
        sa.select(FundDisbursement).where(FundDisbursement.fund_id == fund_id),
        order_by=[FundDisbursement.id],
        page=page,
        page_size=page_size,
        options=[selectinload(FundDisbursement.lines)],
    )
