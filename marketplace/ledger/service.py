"""Benefit-linking rule versions and station fees: the data attribution reads.

A rule version is drafted by an admin, may be previewed over a past period, and is approved by
someone else (an admin, or an official whose subtree holds the producer). Approval closes the
version in force before it the day before the new one starts. Approved versions never change:
the ledger points at them, so an official can always see the rule that computed a share.
Sales already attributed stay as they were (the ledger is append-only); a new version applies
to sales paid from its first day on.
"""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, PermissionDenied, StaleVersion, ValidationFailed
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
from marketplace.ledger.scoping import BENEFIT_RULES
from marketplace.producers.models import Producer, ProducerKind
from marketplace.producers.scoping import PRODUCERS, STATIONS
from marketplace.regions.service import county_id_of, in_subtree_of

RULE_KIND_FOR = {
    ProducerKind.household: RuleKind.household_seller,
    ProducerKind.cooperative: RuleKind.cooperative,
    ProducerKind.enterprise: RuleKind.enterprise,
}

_PARAMETERS = (
    "retained_bp",
    "minimum_dividend_fen",
    "enterprise_basis",
    "enterprise_bp",
    "premium_per_unit_fen",
    "weighting",
)


# --- reading ---------------------------------------------------------------------------------


def list_rules(session, actor: Actor, producer_id: int, *, page: int, page_size: int):
    PRODUCERS.get(session, producer_id, actor)
    stmt = sa.select(BenefitRule).where(BenefitRule.producer_id == producer_id)
    return page_of(
        session,
        stmt,
        order_by=[BenefitRule.version.desc()],
        page=page,
        page_size=page_size,
        options=[selectinload(BenefitRule.beneficiaries)],
    )


def get_rule(session, actor: Actor, rule_id: int, *, lock: bool = False) -> BenefitRule:
    """The rule if ``actor`` may see its producer (404 otherwise, as if it did not exist)."""
    return BENEFIT_RULES.get(
        session, rule_id, actor, options=[selectinload(BenefitRule.beneficiaries)], lock=lock
    )


# --- drafting --------------------------------------------------------------------------------


def _check_parameters(session, producer: Producer, kind: RuleKind, data: dict) -> dict:
    """The columns a rule of ``kind`` keeps, from ``data``; 422 naming each bad field."""
    errors: dict = {}
    values = dict.fromkeys(_PARAMETERS)
    given = {name for name in _PARAMETERS if data.get(name) is not None}
    if data.get("beneficiaries"):
        given.add("beneficiaries")
    if kind is RuleKind.household_seller:
        allowed = set()
    elif kind is RuleKind.cooperative:
        allowed = {"retained_bp", "minimum_dividend_fen"}
        if data.get("retained_bp") is None:
            errors["retained_bp"] = ["required for a co-operative rule"]
    else:
        allowed = {
            "enterprise_basis",
            "enterprise_bp",
            "premium_per_unit_fen",
            "weighting",
            "beneficiaries",
        }
        basis = data.get("enterprise_basis")
        if basis is None:
            errors["enterprise_basis"] = ["required for an enterprise rule"]
        elif basis is EnterpriseBasis.percentage:
            allowed.discard("premium_per_unit_fen")
            if data.get("enterprise_bp") is None:
                errors["enterprise_bp"] = ["required with the percentage basis"]
        else:
            allowed.discard("enterprise_bp")
            if data.get("premium_per_unit_fen") is None:
                errors["premium_per_unit_fen"] = ["required with the per-unit basis"]
        if not data.get("beneficiaries"):
            errors["beneficiaries"] = ["an enterprise rule names at least one household"]
        else:
            _check_beneficiaries(session, producer, data["beneficiaries"], errors)
        data = {"weighting": Weighting.equal, **{k: v for k, v in data.items() if v is not None}}
    for name in sorted(given - allowed):
        errors.setdefault(name, [f"not used by a {kind.value} rule"])
    if errors:
        raise ValidationFailed(errors)
    for name in allowed & set(_PARAMETERS):
        values[name] = data.get(name)
    return values


def _check_beneficiaries(session, producer: Producer, beneficiaries, errors: dict) -> None:
    """Every household must be registered in the producer's county; one elsewhere reads
    exactly like a missing one."""
    wanted = [b["household_id"] for b in beneficiaries]
    found = set(
        session.execute(
            sa.select(Household.id).where(
                Household.id.in_(wanted),
                in_subtree_of(Household.village_id, county_id_of(session, producer.region_id)),
            )
        ).scalars()
    )
    for index, household_id in enumerate(wanted):
        if household_id not in found:
            errors[f"beneficiaries.{index}.household_id"] = [
                f"no registered household {household_id} in the producer's county"
            ]


def _set_beneficiaries(session, rule: BenefitRule, beneficiaries) -> None:
    session.execute(sa.delete(RuleBeneficiary).where(RuleBeneficiary.rule_id == rule.id))
    if beneficiaries:
        session.execute(
            sa.insert(RuleBeneficiary),
            [
                {"rule_id": rule.id, "household_id": b["household_id"], "weight": b["weight"]}
                for b in beneficiaries
            ],
        )


def _reloaded(session, rule_id: int) -> BenefitRule:
    return session.execute(
        sa.select(BenefitRule)
        .where(BenefitRule.id == rule_id)
        .options(selectinload(BenefitRule.beneficiaries))
        .execution_options(populate_existing=True)
    ).scalar_one()


def create_rule(session, actor: Actor, producer_id: int, data: dict) -> BenefitRule:
    if not actor.is_admin:
        raise PermissionDenied("Rule versions are drafted by admins.")
    # The producer row is locked so two drafts made at once cannot take the same number.
    PRODUCERS.get(session, producer_id, actor)
    producer = session.execute(
        sa.select(Producer).where(Producer.id == producer_id).with_for_update()
    ).scalar_one()
    expected = RULE_KIND_FOR[producer.kind]
    if data["kind"] is not expected:
        raise ValidationFailed(
            {"kind": [f"a {producer.kind.value} producer takes a {expected.value} rule"]}
        )
    values = _check_parameters(session, producer, data["kind"], data)
    latest = session.execute(
        sa.select(sa.func.max(BenefitRule.version)).where(BenefitRule.producer_id == producer.id)
    ).scalar_one()
    rule = BenefitRule(
        producer_id=producer.id,
        version=(latest or 0) + 1,
        kind=data["kind"],
        status=RuleStatus.draft,
        effective_from=data["effective_from"],
        note=data.get("note"),
        created_by_id=actor.user_id,
        **values,
    )
    session.add(rule)
    session.flush()
    _set_beneficiaries(session, rule, data.get("beneficiaries"))
    session.flush()
    return _reloaded(session, rule.id)


def _draft_for_change(session, actor: Actor, rule_id: int) -> BenefitRule:
    if not actor.is_admin:
        raise PermissionDenied("Rule versions are edited by admins.")
    rule = get_rule(session, actor, rule_id, lock=True)
    if rule.status is not RuleStatus.draft:
        raise Conflict(
            f"Rule {rule.id} (version {rule.version}) is approved; approved versions never "
            "change. Draft a new version instead."
        )
    return rule


def update_rule(session, actor: Actor, rule_id: int, data: dict) -> BenefitRule:
    rule = _draft_for_change(session, actor, rule_id)
    # Rules have no edit counter of their own; the version number the client read is what it
    # believes it is editing.
    if data["version"] != rule.version:
        raise StaleVersion(f"Rule {rule.id} is version {rule.version}, not {data['version']}.")
    producer = session.get(Producer, rule.producer_id)
    merged = {name: getattr(rule, name) for name in _PARAMETERS}
    merged["beneficiaries"] = [
        {"household_id": b.household_id, "weight": b.weight} for b in rule.beneficiaries
    ]
    merged.update({k: v for k, v in data.items() if k in (*_PARAMETERS, "beneficiaries")})
    if "enterprise_basis" in data:
        # Switching basis drops the other basis's amount, unless the edit sends it (a 422).
        per_unit = data["enterprise_basis"] is EnterpriseBasis.per_unit
        unused = "enterprise_bp" if per_unit else "premium_per_unit_fen"
        merged[unused] = data.get(unused)
    values = _check_parameters(session, producer, rule.kind, merged)
    for name, value in values.items():
        setattr(rule, name, value)
    if "effective_from" in data:
        rule.effective_from = data["effective_from"]
    if "note" in data:
        rule.note = data["note"]
    if "beneficiaries" in data:
        _set_beneficiaries(session, rule, data["beneficiaries"])
    session.flush()
    return _reloaded(session, rule.id)


def delete_rule(session, actor: Actor, rule_id: int) -> None:
    rule = _draft_for_change(session, actor, rule_id)
    _set_beneficiaries(session, rule, None)
    session.execute(sa.delete(BenefitRule).where(BenefitRule.id == rule.id))
    session.expunge(rule)


# --- approval --------------------------------------------------------------------------------


def approve_rule(session, actor: Actor, rule_id: int) -> BenefitRule:
    """Maker-checker: anyone but the rule's author among admins and the producer's officials."""
    if actor.role not in (Role.admin, Role.official):
        raise PermissionDenied("Rules are approved by an admin or an official of the region.")
    rule = get_rule(session, actor, rule_id, lock=True)
    if rule.created_by_id == actor.user_id:
        raise PermissionDenied("You drafted this rule version; someone else must approve it.")
    if rule.status is RuleStatus.approved:
        raise Conflict(f"Rule {rule.id} (version {rule.version}) is already approved.")
    # Approvals of one producer's rules take turns on the producer's row.
    session.execute(sa.select(Producer.id).where(Producer.id == rule.producer_id).with_for_update())
    previous = session.execute(
        sa.select(BenefitRule)
        .where(
            BenefitRule.producer_id == rule.producer_id,
            BenefitRule.status == RuleStatus.approved,
        )
        .order_by(BenefitRule.effective_from.desc(), BenefitRule.version.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if previous is not None:
        if rule.effective_from <= previous.effective_from:
            raise ValidationFailed(
                {
                    "effective_from": [
                        f"must be after {previous.effective_from.isoformat()}, when the approved "
                        f"version {previous.version} starts"
                    ]
                }
            )
        if previous.effective_to is None or previous.effective_to >= rule.effective_from:
            previous.effective_to = rule.effective_from - timedelta(days=1)
    rule.status = RuleStatus.approved
    rule.approved_by_id = actor.user_id
    rule.approved_at = utcnow()
    session.flush()
    return _reloaded(session, rule.id)


# --- station fees ----------------------------------------------------------------------------


def set_station_fee(session, actor: Actor, station_id: int, data: dict) -> StationFee:
    """A fee from a day on. Days already begun are history the ledger has charged by, so a
    fee may start today at the earliest, and one in force already cannot be replaced."""
    if not actor.is_admin:
        raise PermissionDenied("Station fees are set by admins.")
    STATIONS.get(session, station_id, actor)
    today = shanghai_today()
    if data["effective_from"] < today:
        raise ValidationFailed(
            {"effective_from": [f"must be today ({today.isoformat()}) or later"]}
        )
    existing = session.execute(
        sa.select(StationFee).where(
            StationFee.station_id == station_id,
            StationFee.effective_from == data["effective_from"],
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.effective_from <= today:
            raise Conflict("The fee starting today is already in force; set one from tomorrow.")
        existing.fee_bp = data["fee_bp"]
        existing.created_by_id = actor.user_id
        session.flush()
        return existing
    fee = StationFee(
        station_id=station_id,
        fee_bp=data["fee_bp"],
        effective_from=data["effective_from"],
        created_by_id=actor.user_id,
    )
    session.add(fee)
    session.flush()
    return fee


def list_station_fees(session, actor: Actor, station_id: int, *, page: int, page_size: int):
    STATIONS.get(session, station_id, actor)
    return page_of(
        session,
        sa.select(StationFee).where(StationFee.station_id == station_id),
        order_by=[StationFee.effective_from.desc()],
        page=page,
        page_size=page_size,
    )
