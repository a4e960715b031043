"""Which benefit-linking rule and station fee apply to a sale: the approved version in force
on the day the order was paid (Asia/Shanghai), whatever the rules are today."""

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.ledger.models import BenefitRule, RuleStatus, StationFee
from marketplace.producers.models import CooperativeMembership


class RuleBook:
    """Rules, fees and co-op memberships for a set of producers and stations, loaded in a few
    statements and then looked up in memory, so attributing many lines costs no query per line."""

    def __init__(self, session, *, producer_ids, station_ids):
        producer_ids, station_ids = set(producer_ids), set(station_ids)
        self._rules = defaultdict(list)
        for rule in session.execute(
            sa.select(BenefitRule)
            .where(
                BenefitRule.producer_id.in_(producer_ids),
                BenefitRule.status == RuleStatus.approved,
            )
            .options(selectinload(BenefitRule.beneficiaries))
        ).scalars():
            self._rules[rule.producer_id].append(rule)
        for rules in self._rules.values():
            rules.sort(key=lambda rule: rule.version, reverse=True)
        self._fees = defaultdict(list)
        for fee in session.execute(
            sa.select(StationFee).where(StationFee.station_id.in_(station_ids))
        ).scalars():
            self._fees[fee.station_id].append(fee)
        for fees in self._fees.values():
            fees.sort(key=lambda fee: fee.effective_from, reverse=True)
        self._members = defaultdict(list)
        for membership in session.execute(
            sa.select(CooperativeMembership).where(
                CooperativeMembership.cooperative_id.in_(producer_ids)
            )
        ).scalars():
            self._members[membership.cooperative_id].append(membership)

    def rule(self, producer_id: int, on: date) -> BenefitRule | None:
        """The highest approved version whose dates contain ``on``."""
        for rule in self._rules.get(producer_id, ()):
            if rule.effective_from <= on and (rule.effective_to is None or on <= rule.effective_to):
                return rule
        return None

    def fee_bp(self, station_id: int, on: date) -> int:
        for fee in self._fees.get(station_id, ()):
            if fee.effective_from <= on:
                return fee.fee_bp
        return 0

    def members(self, cooperative_id: int, on: date) -> list[tuple[int, int]]:
        """``(household_id, shares)`` of the members on ``on``, by household id."""
        active: dict[int, int] = {}
        for membership in self._members.get(cooperative_id, ()):
            if membership.joined_on <= on and (
                membership.left_on is None or on <= membership.left_on
            ):
                active[membership.household_id] = active.get(membership.household_id, 0) + (
                    membership.shares
                )
        return sorted(active.items())
