"""The demo county's benefit-linking rules and station fees: so a demo sale shows money
reaching member households, not only the co-op. Each rule is version 1, drafted by the county
official and approved by the admin (maker-checker); found again by producer and version."""

from datetime import UTC, date, datetime

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.households.models import Household
from marketplace.ledger.models import (
    BenefitRule,
    EnterpriseBasis,
    RuleBeneficiary,
    RuleKind,
    RuleStatus,
    StationFee,
    Weighting,
)
from marketplace.producers.models import Producer, Station


def load_rules(session, data, created) -> None:
    users = dict(
        session.execute(
            sa.select(User.username, User.id).where(
                User.username.in_([data["drafted_by"], data["approved_by"]])
            )
        ).all()
    )
    producers = dict(
        session.execute(
            sa.select(Producer.credit_code, Producer.id).where(
                Producer.credit_code.in_([rule["producer"] for rule in data["rules"]])
            )
        ).all()
    )
    existing = set(
        session.execute(
            sa.select(BenefitRule.producer_id).where(
                BenefitRule.producer_id.in_(producers.values()), BenefitRule.version == 1
            )
        ).scalars()
    )
    registry = {number for rule in data["rules"] for number in rule.get("beneficiaries", [])}
    households = dict(
        session.execute(
            sa.select(Household.registry_number, Household.id).where(
                Household.registry_number.in_(registry)
            )
        ).all()
    )
    approved_at = datetime(2023, 12, 20, 2, 0, tzinfo=UTC)
    for item in data["rules"]:
        producer_id = producers[item["producer"]]
        if producer_id in existing:
            continue
        rule = BenefitRule(
            producer_id=producer_id,
            version=1,
            kind=RuleKind(item["kind"]),
            status=RuleStatus.approved,
            effective_from=date.fromisoformat(item["effective_from"]),
            retained_bp=item.get("retained_bp"),
            minimum_dividend_fen=item.get("minimum_dividend_fen"),
            enterprise_basis=EnterpriseBasis(item["enterprise_basis"])
            if item.get("enterprise_basis")
            else None,
            enterprise_bp=item.get("enterprise_bp"),
            weighting=Weighting(item["weighting"]) if item.get("weighting") else None,
            note=item["note"],
            created_by_id=users[data["drafted_by"]],
            approved_by_id=users[data["approved_by"]],
            approved_at=approved_at,
        )
        rule.beneficiaries = [
            RuleBeneficiary(household_id=households[number], weight=1)
            for number in item.get("beneficiaries", [])
        ]
        session.add(rule)
        created["benefit_rules"] += 1

    stations = dict(
        session.execute(
            sa.select(Station.code, Station.id).where(
                Station.code.in_([fee["station"] for fee in data["station_fees"]])
            )
        ).all()
    )
    fees = set(
        session.execute(sa.select(StationFee.station_id, StationFee.effective_from)).tuples()
    )
    for item in data["station_fees"]:
        key = (stations[item["station"]], date.fromisoformat(item["effective_from"]))
        if key in fees:
            continue
        session.add(
            StationFee(
                station_id=key[0],
                fee_bp=item["fee_bp"],
                effective_from=key[1],
                created_by_id=users[data["approved_by"]],
            )
        )
        created["station_fees"] += 1
    session.flush()
