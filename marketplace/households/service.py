"""The household registry: households and their payout account (their status over time is
``status.py``'s).

Admins manage every household; a station manages the households of its own village; officials
read their subtree. Who reaches which row is decided in ``households/scoping.py``; which roles
may call what is decided by the API. National ID and card numbers are stored encrypted, with a
keyed hash for exact lookup and the masked form beside them.
"""

import logging
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from marketplace import pii
from marketplace.accounts.auth import Actor
from marketplace.clock import shanghai_today
from marketplace.closes.months import first_open_month
from marketplace.db import check_version, page_of
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.households.models import Household, HouseholdStatusChange, PayoutAccount
from marketplace.households.scoping import HOUSEHOLDS, PAYOUT_ACCOUNTS
from marketplace.reasons import reason
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import in_subtree_of

logger = logging.getLogger(__name__)

#: The relation that makes the card holder the head of household.
SELF = "本人"

NOT_A_VILLAGE = reason("household.not_a_village", "must be the id of a village")
OUTSIDE_STATION_VILLAGE = reason(
    "household.outside_station_village", "a station registers households of its own village only"
)
REGISTRY_NUMBER_TAKEN = reason(
    "household.registry_number_taken", "already used by household {household_id}"
)
HEAD_TAKEN = reason("household.head_taken", "already the head of household {household_id}")
#: What a caller is told of a registry number or ID number held by a household it may not
#: see: nothing about where, or whether it is a head (the registry is not an oracle).
NOT_HERE = reason("household.number_unavailable", "cannot be registered here")
REGISTERED_MEANWHILE = reason(
    "household.registered_meanwhile",
    "Another change registered the same registry number or ID number first.",
)
INITIAL_STATUS_IN_FUTURE = reason(
    "household.initial_status_in_future",
    "the initial status must already be in effect; record future changes as status changes",
)
STILL_REFERENCED = reason(
    "household.still_referenced",
    "Household {household_id} is still referenced (a producer, a co-operative membership or "
    "income records); remove those first.",
)
NO_PAYOUT_ACCOUNT = reason(
    "household.no_payout_account", "Household {household_id} has no payout account."
)
HOLDER_NAME_NOT_HEAD = reason(
    "payout_account.holder_name_not_head", "must be the head's name when the holder is 本人"
)
HOLDER_ID_NOT_HEAD = reason(
    "payout_account.holder_id_not_head", "must be the head's ID number when the holder is 本人"
)


def protect_number(number: str) -> tuple[str, str, str]:
    """``(ciphertext, keyed lookup hash, mask)`` of an ID or card number."""
    cipher = pii.cipher()
    return cipher.encrypt(number), cipher.lookup_hash(number), pii.mask(number)


# ---------------------------------------------------------------------------------------------
# Households


def list_households(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = HOUSEHOLDS.restrict(sa.select(Household), actor)
    if filters.get("village_id") is not None:
        stmt = stmt.where(Household.village_id == filters["village_id"])
    if filters.get("within") is not None:
        stmt = stmt.where(in_subtree_of(Household.village_id, filters["within"]))
    if filters.get("status") is not None:
        stmt = stmt.where(Household.status == filters["status"])
    if filters.get("monitoring_type") is not None:
        stmt = stmt.where(Household.monitoring_type == filters["monitoring_type"])
    if filters.get("registry_number"):
        stmt = stmt.where(Household.registry_number == filters["registry_number"])
    if filters.get("q"):
        stmt = stmt.where(Household.head_name.contains(filters["q"], autoescape=True))
    if filters.get("id_number"):
        lookup = pii.cipher().lookup_hash(filters["id_number"])
        stmt = stmt.where(Household.head_id_lookup == lookup)
    return page_of(
        session,
        stmt,
        order_by=[Household.id],
        page=page,
        page_size=page_size,
        options=[joinedload(Household.village)],
    )


def get_household(session, actor: Actor, household_id: int) -> Household:
    return HOUSEHOLDS.get(session, household_id, actor, options=[joinedload(Household.village)])


def _village_for(session, actor: Actor, village_id: int) -> Region:
    """The village a household may be registered in by ``actor``; otherwise 422 on village_id."""
    village = session.get(Region, village_id)
    if village is None or village.level is not RegionLevel.village:
        raise ValidationFailed({"village_id": [NOT_A_VILLAGE()]})
    if not actor.is_admin and village.id != actor.station_village_id:
        raise ValidationFailed({"village_id": [OUTSIDE_STATION_VILLAGE()]})
    return village


def _uniqueness_errors(
    session, actor: Actor, *, registry_number=None, head_id_lookup=None, except_id=None
) -> dict:
    """Field errors for a registry number or head ID already used by another household.

    A caller who may see that household is told so; anyone else is told only that the number
    cannot be registered here, and the attempt is logged for the admins (repeated attempts are
    someone probing the registry).
    """
    errors = {}
    checks = (
        ("registry_number", Household.registry_number, registry_number),
        ("head_id_number", Household.head_id_lookup, head_id_lookup),
    )
    for field, column, value in checks:
        if value is None:
            continue
        stmt = sa.select(Household.id, HOUSEHOLDS.clause(actor)).where(column == value)
        if except_id is not None:
            stmt = stmt.where(Household.id != except_id)
        holder = session.execute(stmt).first()
        if holder is None:
            continue
        holder_id, visible = holder
        if not visible:
            errors[field] = [NOT_HERE()]
            logger.warning(
                "registry conflict: user %s (%s) tried a %s held by household %s outside "
                "their scope",
                actor.user_id,
                actor.role.value,
                field,
                holder_id,
            )
        elif field == "registry_number":
            errors[field] = [REGISTRY_NUMBER_TAKEN(household_id=holder_id)]
        else:
            errors[field] = [HEAD_TAKEN(household_id=holder_id)]
    return errors


def _flush_or_conflict(session) -> None:
    """A concurrent write that took the same unique value first: a 409, never a 500."""
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(REGISTERED_MEANWHILE()) from error


def create_household(session, actor: Actor, data: dict, *, today: date | None = None):
    today = today or shanghai_today()
    errors = {}
    try:
        village = _village_for(session, actor, data["village_id"])
    except ValidationFailed as failed:
        errors.update(failed.errors)
    encrypted, lookup, masked = protect_number(data["head_id_number"])
    errors.update(
        _uniqueness_errors(
            session, actor, registry_number=data["registry_number"], head_id_lookup=lookup
        )
    )
    effective_from = data["status_effective_from"] or today
    if effective_from > today:
        errors["status_effective_from"] = [INITIAL_STATUS_IN_FUTURE()]
    if errors:
        raise ValidationFailed(errors)
    household = Household(
        registry_number=data["registry_number"],
        head_name=data["head_name"],
        head_id_encrypted=encrypted,
        head_id_lookup=lookup,
        head_id_masked=masked,
        phone=data["phone"],
        members_count=data["members_count"],
        village=village,
        address=data["address"],
        poverty_causes=[cause.value for cause in data["poverty_causes"]],
        helper_name=data["helper_name"],
        helper_phone=data["helper_phone"],
        status=data["status"],
        monitoring_type=data["monitoring_type"],
    )
    session.add(household)
    _flush_or_conflict(session)
    session.add(
        HouseholdStatusChange(
            household_id=household.id,
            status=data["status"],
            monitoring_type=data["monitoring_type"],
            effective_from=effective_from,
            recorded_by_id=actor.user_id,
        )
    )
    session.flush()
    # A status dated in a closed month is the registry's truth, but the month's reports stay
    # as they were signed off: the household is counted from the first open month.
    household.reported_from = first_open_month(session, village.id, effective_from)
    return household


def update_household(session, actor: Actor, household_id: int, data: dict) -> Household:
    household = get_household(session, actor, household_id)
    check_version(household, data.pop("version"))
    changes = dict(data)
    errors = {}
    if "village_id" in changes:
        try:
            changes["village"] = _village_for(session, actor, changes.pop("village_id"))
        except ValidationFailed as failed:
            errors.update(failed.errors)
    head_id_lookup = household.head_id_lookup
    if "head_id_number" in changes:
        encrypted, lookup, masked = protect_number(changes.pop("head_id_number"))
        if lookup != household.head_id_lookup:
            head_id_lookup = lookup
            changes.update(head_id_encrypted=encrypted, head_id_lookup=lookup)
            changes["head_id_masked"] = masked
    errors.update(
        _uniqueness_errors(
            session,
            actor,
            registry_number=changes.get("registry_number"),
            head_id_lookup=head_id_lookup,
            except_id=household.id,
        )
    )
    if errors:
        raise ValidationFailed(errors)
    if "poverty_causes" in changes:
        changes["poverty_causes"] = [cause.value for cause in changes["poverty_causes"]]
    for field, value in changes.items():
        setattr(household, field, value)
    _flush_or_conflict(session)
    return household


def delete_household(session, actor: Actor, household_id: int) -> None:
    """Remove a household with its status history and payout account.

    A household that a producer or a co-operative membership (or anything later: income,
    payouts) still references is refused with 409. The database's foreign keys decide, so a
    new referencing table is covered without this registry knowing about it.
    """
    household = get_household(session, actor, household_id)
    try:
        with session.begin_nested():
            session.execute(
                sa.delete(Household)
                .where(Household.id == household.id)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError as error:
        raise Conflict(STILL_REFERENCED(household_id=household_id)) from error
    session.expunge(household)


# ---------------------------------------------------------------------------------------------
# The one-card payout account


def get_payout_account(session, actor: Actor, household_id: int) -> PayoutAccount:
    stmt = PAYOUT_ACCOUNTS.restrict(
        sa.select(PayoutAccount).where(PayoutAccount.household_id == household_id), actor
    )
    account = session.execute(stmt).scalar_one_or_none()
    if account is None:
        raise NotFound(NO_PAYOUT_ACCOUNT(household_id=household_id))
    return account


def holder_problems(head_name: str, head_id_lookup: str, data: dict) -> dict:
    """A card held by the head (本人) must carry the head's own name and ID number."""
    if data["holder_relation"] != SELF:
        return {}
    errors = {}
    if data["holder_name"] != head_name:
        errors["holder_name"] = [HOLDER_NAME_NOT_HEAD()]
    if pii.cipher().lookup_hash(data["holder_id_number"]) != head_id_lookup:
        errors["holder_id_number"] = [HOLDER_ID_NOT_HEAD()]
    return errors


def payout_account_columns(data: dict) -> dict:
    card_encrypted, card_lookup, card_masked = protect_number(data["card_number"])
    holder_encrypted, _, holder_masked = protect_number(data["holder_id_number"])
    return {
        "bank_name": data["bank_name"],
        "card_encrypted": card_encrypted,
        "card_lookup": card_lookup,
        "card_masked": card_masked,
        "holder_name": data["holder_name"],
        "holder_id_encrypted": holder_encrypted,
        "holder_id_masked": holder_masked,
        "holder_relation": data["holder_relation"],
    }


def put_payout_account(session, actor: Actor, household_id: int, data: dict) -> PayoutAccount:
    """Create the household's payout account, or replace the one it has."""
    household = HOUSEHOLDS.get(session, household_id, actor)
    errors = holder_problems(household.head_name, household.head_id_lookup, data)
    if errors:
        raise ValidationFailed(errors)
    account = session.execute(
        sa.select(PayoutAccount).where(PayoutAccount.household_id == household.id)
    ).scalar_one_or_none()
    if account is None:
        account = PayoutAccount(household_id=household.id)
        session.add(account)
    for column, value in payout_account_columns(data).items():
        setattr(account, column, value)
    _flush_or_conflict(session)
    return account
