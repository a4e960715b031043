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

from marketplace.accounts.approvals import check_not_a_maker
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
from marketplace.reasons import reason
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

RETAINED_BP_REQUIRED = reason("rule.retained_bp_required", "required for a co-operative rule")
ENTERPRISE_BASIS_REQUIRED = reason(
    "rule.enterprise_basis_required", "required for an enterprise rule"
)
ENTERPRISE_BP_REQUIRED = reason("rule.enterprise_bp_required", "required with the percentage basis")
PREMIUM_PER_UNIT_REQUIRED = reason(
    "rule.premium_per_unit_required", "required with the per-unit basis"
)
BENEFICIARIES_REQUIRED = reason(
    "rule.beneficiaries_required", "an enterprise rule names at least one household"
)
PARAMETER_UNUSED = reason("rule.parameter_unused", "not used by a {kind} rule")
BENEFICIARY_OUTSIDE_COUNTY = reason(
    "rule.beneficiary_outside_county",
    "no registered household {household_id} in the producer's county",
)
DRAFTING_BY_ADMINS = reason("rule.draft_admin_only", "Rule versions are drafted by admins.")
KIND_NOT_PRODUCERS = reason(
    "rule.kind_not_producers", "a {producer_kind} producer takes a {rule_kind} rule"
)
EDITING_BY_ADMINS = reason("rule.edit_admin_only", "Rule versions are edited by admins.")
APPROVED_NEVER_CHANGES = reason(
    "rule.approved_unchangeable",
    "Rule {rule_id} (version {version}) is approved; approved versions never change. Draft a "
    "new version instead.",
)
REVISION_NOT_READ = reason(
    "rule.revision_stale",
    "Rule {rule_id}'s draft is at revision {revision}, not {given_revision}: someone saved it "
    "since you read it; reload it and apply your change again.",
)
APPROVER_NOT_ADMIN_OR_OFFICIAL = reason(
    "rule.approve_admin_or_official",
    "Rules are approved by an admin or an official of the region.",
)
APPROVER_IS_AUTHOR = reason(
    "rule.approver_is_author",
    "You drafted or edited this rule version; someone else must approve it.",
)
ALREADY_APPROVED = reason(
    "rule.already_approved", "Rule {rule_id} (version {version}) is already approved."
)
STARTS_BEFORE_APPROVED = reason(
    "rule.starts_before_approved",
    "must be after {previous_from}, when the approved version {previous_version} starts",
)
FEE_BY_ADMINS = reason("station_fee.admin_only", "Station fees are set by admins.")
FEE_STARTS_IN_PAST = reason("station_fee.starts_in_past", "must be today ({today}) or later")
FEE_IN_FORCE = reason(
    "station_fee.in_force", "The fee starting today is already in force; set one from tomorrow."
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
            errors["retained_bp"] = [RETAINED_BP_REQUIRED()]
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
            errors["enterprise_basis"] = [ENTERPRISE_BASIS_REQUIRED()]
        elif basis is EnterpriseBasis.percentage:
            allowed.discard("premium_per_unit_fen")
            if data.get("enterprise_bp") is None:
                errors["enterprise_bp"] = [ENTERPRISE_BP_REQUIRED()]
        else:
            allowed.discard("enterprise_bp")
            if data.get("premium_per_unit_fen") is None:
                errors["premium_per_unit_fen"] = [PREMIUM_PER_UNIT_REQUIRED()]
        if not data.get("beneficiaries"):
            errors["beneficiaries"] = [BENEFICIARIES_REQUIRED()]
        else:
            _check_beneficiaries(session, producer, data["beneficiaries"], errors)
        data = {"weighting": Weighting.equal, **{k: v for k, v in data.items() if v is not None}}
    for name in sorted(given - allowed):
        errors.setdefault(name, [PARAMETER_UNUSED(kind=kind.value)])
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
                BENEFICIARY_OUTSIDE_COUNTY(household_id=household_id)
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
        raise PermissionDenied(DRAFTING_BY_ADMINS())
    # The producer row is locked so two drafts made at once cannot take the same number.
    PRODUCERS.get(session, producer_id, actor)
    producer = session.execute(
        sa.select(Producer).where(Producer.id == producer_id).with_for_update()
    ).scalar_one()
    expected = RULE_KIND_FOR[producer.kind]
    if data["kind"] is not expected:
        raise ValidationFailed(
            {
                "kind": [
                    KIND_NOT_PRODUCERS(producer_kind=producer.kind.value, rule_kind=expected.value)
                ]
            }
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
        raise PermissionDenied(EDITING_BY_ADMINS())
    rule = get_rule(session, actor, rule_id, lock=True)
    if rule.status is not RuleStatus.draft:
        raise Conflict(APPROVED_NEVER_CHANGES(rule_id=rule.id, version=rule.version))
    return rule


def update_rule(session, actor: Actor, rule_id: int, data: dict) -> BenefitRule:
    rule = _draft_for_change(session, actor, rule_id)
    # The draft's own edit counter (under the rule's lock): another editor's save since the
    # client read it makes this edit stale.
    if data["revision"] != rule.revision:
        raise StaleVersion(
            REVISION_NOT_READ(
                rule_id=rule.id, revision=rule.revision, given_revision=data["revision"]
            )
        )
    rule.revision += 1
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
    if actor.user_id not in rule.edited_by_ids:
        # An editor made the version as much as its author: neither approves it.
        rule.edited_by_ids = [*rule.edited_by_ids, actor.user_id]
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
        raise PermissionDenied(APPROVER_NOT_ADMIN_OR_OFFICIAL())
    rule = get_rule(session, actor, rule_id, lock=True)
    check_not_a_maker(actor, [rule.created_by_id, *rule.edited_by_ids], APPROVER_IS_AUTHOR())
    if rule.status is RuleStatus.approved:
        raise Conflict(ALREADY_APPROVED(rule_id=rule.id, version=rule.version))
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
                        STARTS_BEFORE_APPROVED(
                            previous_from=previous.effective_from.isoformat(),
                            previous_version=previous.version,
                        )
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
        raise PermissionDenied(FEE_BY_ADMINS())
    STATIONS.get(session, station_id, actor)
    today = shanghai_today()
    if data["effective_from"] < today:
        raise ValidationFailed({"effective_from": [FEE_STARTS_IN_PAST(today=today.isoformat())]})
    existing = session.execute(
        sa.select(StationFee).where(
            StationFee.station_id == station_id,
            StationFee.effective_from == data["effective_from"],
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.effective_from <= today:
            raise Conflict(FEE_IN_FORCE())
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
