"""Buying units (消费帮扶 buyers): their villages, their yearly purchase quotas, their users.

Admins manage units; a unit's own users may correct only its contact details; officials read
the units seated in their subtree or paired with one of its villages.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role, User
from marketplace.db import check_version, page_of
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.producers.models import BuyingUnit, UnitPurchaseQuota, UnitVillagePairing
from marketplace.producers.scoping import UNITS
from marketplace.producers.service import (
    ADMIN_ONLY,
    InvalidCreditCode,
    check_credit_code,
    normalize_credit_code,
    region_or_error,
    village_or_error,
)
from marketplace.reasons import reason
from marketplace.regions.service import in_subtree_of

#: what a unit's own users may change about it
MEMBER_EDITABLE = frozenset({"contact_name", "contact_phone"})
QUOTA_YEARS = range(2000, 2101)

NAME_TAKEN = reason("unit.name_taken", "already used by another unit")
CREDIT_CODE_TAKEN = reason("unit.credit_code_taken", "already registered for another unit")
MEMBER_FIELDS_ONLY = reason(
    "unit.member_fields_only", "A unit's users may change only its contact details."
)
ALREADY_PAIRED = reason("unit.already_paired", "the unit is already paired with this village")
NO_SUCH_PAIRING = reason(
    "unit.no_such_pairing", "Pairing {pairing_id} of unit {unit_id} not found."
)
QUOTA_YEAR_RANGE = reason("unit.quota_year_range", "must be between {first} and {last}")


def list_units(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = UNITS.restrict(sa.select(BuyingUnit), actor)
    if filters.get("kind") is not None:
        stmt = stmt.where(BuyingUnit.kind == filters["kind"])
    if filters.get("is_active") is not None:
        stmt = stmt.where(BuyingUnit.is_active.is_(filters["is_active"]))
    if filters.get("within") is not None:
        stmt = stmt.where(in_subtree_of(BuyingUnit.region_id, filters["within"]))
    if filters.get("q"):
        stmt = stmt.where(BuyingUnit.name.contains(filters["q"], autoescape=True))
    return page_of(session, stmt, order_by=[BuyingUnit.id], page=page, page_size=page_size)


def get_unit(session, actor: Actor, unit_id: int) -> BuyingUnit:
    return UNITS.get(session, unit_id, actor)


def _check_fields(session, data: dict, unit_id: int | None) -> None:
    errors: dict = {}
    if data.get("name") is not None:
        taken = sa.select(BuyingUnit.id).where(BuyingUnit.name == data["name"])
        if unit_id is not None:
            taken = taken.where(BuyingUnit.id != unit_id)
        if session.execute(taken).first():
            errors["name"] = [NAME_TAKEN()]
    if data.get("credit_code") is not None:
        data["credit_code"] = code = normalize_credit_code(data["credit_code"])
        taken = sa.select(BuyingUnit.id).where(BuyingUnit.credit_code == code)
        if unit_id is not None:
            taken = taken.where(BuyingUnit.id != unit_id)
        try:
            check_credit_code(code)
        except InvalidCreditCode as invalid:
            errors["credit_code"] = [invalid.reason]
        else:
            if session.execute(taken).first():
                errors["credit_code"] = [CREDIT_CODE_TAKEN()]
    if data.get("region_id") is not None:
        region_or_error(session, data["region_id"], "region_id", errors)
    if errors:
        raise ValidationFailed(errors)


def create_unit(session, actor: Actor, data: dict) -> BuyingUnit:
    data = dict(data)
    _check_fields(session, data, None)
    unit = BuyingUnit(**data)
    session.add(unit)
    session.flush()
    return unit


def update_unit(session, actor: Actor, unit_id: int, data: dict) -> BuyingUnit:
    """Change a unit: admins anything, the unit's own users its contact details."""
    unit = get_unit(session, actor, unit_id)
    check_version(unit, data.pop("version"))
    if actor.role is Role.unit:
        refused = sorted(set(data) - MEMBER_EDITABLE)
        if refused:
            raise PermissionDenied(
                MEMBER_FIELDS_ONLY(),
                errors={field: [ADMIN_ONLY()] for field in refused},
            )
    _check_fields(session, data, unit.id)
    for key, value in data.items():
        setattr(unit, key, value)
    session.flush()
    return unit


def list_unit_users(session, actor: Actor, unit_id: int, *, page: int, page_size: int):
    unit = get_unit(session, actor, unit_id)
    stmt = sa.select(User).where(User.role == Role.unit, User.unit_id == unit.id)
    return page_of(session, stmt, order_by=[User.id], page=page, page_size=page_size)


# --- pairings with villages ------------------------------------------------------------------


def list_pairings(session, actor: Actor, unit_id: int, *, page: int, page_size: int):
    unit = get_unit(session, actor, unit_id)
    stmt = sa.select(UnitVillagePairing).where(UnitVillagePairing.unit_id == unit.id)
    return page_of(
        session,
        stmt,
        order_by=[UnitVillagePairing.id],
        page=page,
        page_size=page_size,
        options=[selectinload(UnitVillagePairing.village)],
    )


def add_pairing(session, actor: Actor, unit_id: int, data: dict) -> UnitVillagePairing:
    unit = get_unit(session, actor, unit_id)
    errors: dict = {}
    village = village_or_error(session, data["village_id"], "village_id", errors)
    paired = sa.select(UnitVillagePairing.id).where(
        UnitVillagePairing.unit_id == unit.id,
        UnitVillagePairing.village_id == data["village_id"],
    )
    if village is not None and session.execute(paired).first():
        errors["village_id"] = [ALREADY_PAIRED()]
    if errors:
        raise ValidationFailed(errors)
    pairing = UnitVillagePairing(unit_id=unit.id, village=village, since=data["since"])
    session.add(pairing)
    session.flush()
    return pairing


def remove_pairing(session, actor: Actor, unit_id: int, pairing_id: int) -> None:
    unit = get_unit(session, actor, unit_id)
    pairing = session.execute(
        sa.select(UnitVillagePairing).where(
            UnitVillagePairing.id == pairing_id, UnitVillagePairing.unit_id == unit.id
        )
    ).scalar_one_or_none()
    if pairing is None:
        raise NotFound(NO_SUCH_PAIRING(pairing_id=pairing_id, unit_id=unit_id))
    session.delete(pairing)
    session.flush()


# --- yearly purchase quotas ------------------------------------------------------------------


def list_quotas(session, actor: Actor, unit_id: int, *, page: int, page_size: int):
    unit = get_unit(session, actor, unit_id)
    stmt = sa.select(UnitPurchaseQuota).where(UnitPurchaseQuota.unit_id == unit.id)
    return page_of(session, stmt, order_by=[UnitPurchaseQuota.year], page=page, page_size=page_size)


def set_quota(session, actor: Actor, unit_id: int, year: int, data: dict) -> UnitPurchaseQuota:
    """Set (create or replace) the unit's purchase quota for ``year``."""
    unit = get_unit(session, actor, unit_id)
    if year not in QUOTA_YEARS:
        first, last = QUOTA_YEARS.start, QUOTA_YEARS.stop - 1
        raise ValidationFailed({"year": [QUOTA_YEAR_RANGE(first=first, last=last)]})
    # Two first settings of one year would both insert: take the unit's row lock first
    # (PostgreSQL; SQLite serializes writers and renders no FOR UPDATE).
    session.execute(sa.select(BuyingUnit.id).where(BuyingUnit.id == unit.id).with_for_update())
    quota = session.execute(
        sa.select(UnitPurchaseQuota).where(
            UnitPurchaseQuota.unit_id == unit.id, UnitPurchaseQuota.year == year
        )
    ).scalar_one_or_none()
    if quota is None:
        quota = UnitPurchaseQuota(unit_id=unit.id, year=year)
        session.add(quota)
    quota.quota_fen = data["quota_fen"]
    quota.currency = data["currency"]
    session.flush()
    return quota
