"""The demo county (青松县): the data files in ``seed/data`` loaded into the database.

Every row is looked up by its natural key and inserted only when missing; nothing that exists
is ever updated. So loading twice changes nothing (not even ``updated_at``), and loading into a
database where someone already edited a demo row keeps their edit.

Rows go in through the models, so the database sees exactly what the services would write:
national ID and card numbers encrypted with their lookup hash and mask, passwords hashed with
argon2, ``min_price_fen`` and ``search_text`` kept the way the catalog keeps them.
"""

import json
from collections import Counter
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from marketplace import pii
from marketplace.accounts.models import Role, User
from marketplace.accounts.service import hash_password
from marketplace.catalog.models import CatalogGeneration
from marketplace.households.models import (
    Household,
    HouseholdStatus,
    HouseholdStatusChange,
    MonitoringType,
    PayoutAccount,
)
from marketplace.producers.models import (
    BuyingUnit,
    CooperativeMembership,
    Producer,
    ProducerKind,
    Station,
    UnitKind,
    UnitPurchaseQuota,
    UnitVillagePairing,
)
from marketplace.regions.models import Region, RegionLevel
from seed.demo_catalog import load_products
from seed.demo_history import load_history, load_unit_purchases
from seed.demo_livestream import load_livestream
from seed.demo_rules import load_rules

DATA_DIR = Path(__file__).resolve().parent / "data"

#: The order in which the loader reports what it created (parents before children).
REPORTED_TABLES = (
    "regions",
    "households",
    "household_status_changes",
    "payout_accounts",
    "stations",
    "producers",
    "cooperative_memberships",
    "buying_units",
    "unit_village_pairings",
    "unit_purchase_quotas",
    "users",
    "products",
    "skus",
    "benefit_rules",
    "station_fees",
    "livestream_sessions",
    "orders",
    "pledges",
)


def read_data(name: str):
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load_demo(session) -> dict[str, int]:
    """Insert whatever of the demo data is missing; flush, never commit.

    Returns how many rows were created per table (all zero when everything was there).
    Needs an application context: encryption uses the app's key.
    """
    created: Counter = Counter()
    regions = _load_regions(session, read_data("regions"), created)
    households = _load_households(session, read_data("households"), regions, created)
    stations = _load_stations(session, read_data("stations"), regions, created)
    producers = _load_producers(
        session, read_data("producers"), regions, households, stations, created
    )
    units = _load_buying_units(session, read_data("buying_units"), regions, created)
    _load_users(session, read_data("users"), regions, stations, units, created)
    load_products(session, read_data("products"), regions, stations, producers, created)
    load_rules(session, read_data("benefit_rules"), created)
    load_livestream(session, created)
    load_history(session, created)
    load_unit_purchases(session, created)
    if sum(created.values()):
        # Cached anonymous catalog pages must not outlive a change to the catalog.
        session.execute(
            sa.update(CatalogGeneration)
            .where(CatalogGeneration.id == 1)
            .values(value=CatalogGeneration.value + 1)
        )
    session.flush()
    return {table: created[table] for table in REPORTED_TABLES}


def _by_key(session, column, keys) -> dict:
    """Existing rows of ``column``'s model whose ``column`` is one of ``keys``, by that key."""
    model = column.class_
    rows = session.execute(sa.select(model).where(column.in_(list(keys)))).scalars()
    return {getattr(row, column.key): row for row in rows}


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _load_regions(session, data, created) -> dict[str, Region]:
    regions = _by_key(session, Region.code, (r["code"] for r in data))
    for item in data:  # parents come first in the file
        if item["code"] in regions:
            continue
        parent = regions[item["parent"]] if item["parent"] else None
        region = Region(
            code=item["code"],
            name=item["name"],
            level=RegionLevel(item["level"]),
            parent_id=parent.id if parent else None,
            path="",
        )
        session.add(region)
        session.flush()  # the path is made of ids
        region.path = f"{parent.path if parent else '/'}{region.id}/"
        regions[item["code"]] = region
        created["regions"] += 1
    session.flush()
    return regions


def _load_households(session, data, regions, created) -> dict[str, Household]:
    cipher = pii.cipher()
    households = _by_key(session, Household.registry_number, (h["registry_number"] for h in data))
    for item in data:
        if item["registry_number"] in households:
            continue
        current = item["status_history"][-1]
        id_number = item["head_id_number"]
        household = Household(
            registry_number=item["registry_number"],
            head_name=item["head_name"],
            head_id_encrypted=cipher.encrypt(id_number),
            head_id_lookup=cipher.lookup_hash(id_number),
            head_id_masked=pii.mask(id_number),
            phone=item["phone"],
            members_count=item["members_count"],
            village_id=regions[item["village_code"]].id,
            address=item["address"],
            poverty_causes=item["poverty_causes"],
            helper_name=item["helper_name"],
            helper_phone=item["helper_phone"],
            status=HouseholdStatus(current["status"]),
            monitoring_type=_monitoring_type(current),
        )
        session.add(household)
        households[item["registry_number"]] = household
        created["households"] += 1
    session.flush()

    ids = [h.id for h in households.values()]
    known_changes = set(
        session.execute(
            sa.select(
                HouseholdStatusChange.household_id,
                HouseholdStatusChange.effective_from,
                HouseholdStatusChange.status,
            ).where(HouseholdStatusChange.household_id.in_(ids))
        ).tuples()
    )
    with_account = set(
        session.execute(
            sa.select(PayoutAccount.household_id).where(PayoutAccount.household_id.in_(ids))
        ).scalars()
    )
    for item in data:
        household = households[item["registry_number"]]
        for change in item["status_history"]:
            key = (household.id, _day(change["effective_from"]), HouseholdStatus(change["status"]))
            if key in known_changes:
                continue
            session.add(
                HouseholdStatusChange(
                    household_id=household.id,
                    status=key[2],
                    monitoring_type=_monitoring_type(change),
                    effective_from=key[1],
                    note=change.get("note"),
                )
            )
            created["household_status_changes"] += 1
        account = item.get("payout_account")
        if account and household.id not in with_account:
            session.add(_payout_account(cipher, household, account))
            created["payout_accounts"] += 1
    session.flush()
    return households


def _monitoring_type(change: dict) -> MonitoringType | None:
    value = change.get("monitoring_type")
    return MonitoringType(value) if value else None


def _payout_account(cipher, household: Household, account: dict) -> PayoutAccount:
    card, holder_id = account["card_number"], account["holder_id_number"]
    return PayoutAccount(
        household_id=household.id,
        bank_name=account["bank_name"],
        card_encrypted=cipher.encrypt(card),
        card_lookup=cipher.lookup_hash(card),
        card_masked=pii.mask(card),
        holder_name=account["holder_name"],
        holder_id_encrypted=cipher.encrypt(holder_id),
        holder_id_masked=pii.mask(holder_id),
        holder_relation=account["holder_relation"],
    )


def _load_stations(session, data, regions, created) -> dict[str, Station]:
    stations = _by_key(session, Station.code, (s["code"] for s in data))
    for item in data:
        if item["code"] in stations:
            continue
        station = Station(
            code=item["code"],
            name=item["name"],
            village_id=regions[item["village"]].id,
            address=item["address"],
            phone=item["phone"],
        )
        session.add(station)
        stations[item["code"]] = station
        created["stations"] += 1
    session.flush()
    return stations


def _load_producers(session, data, regions, households, stations, created) -> dict[str, Producer]:
    """Producers keyed the way products.json names them: credit code, or the selling
    household's registry number."""
    organisations = data["cooperatives"] + data["enterprises"]
    producers = _by_key(session, Producer.credit_code, (o["credit_code"] for o in organisations))
    for kind, items in (
        (ProducerKind.cooperative, data["cooperatives"]),
        (ProducerKind.enterprise, data["enterprises"]),
    ):
        for item in items:
            if item["credit_code"] in producers:
                continue
            producer = Producer(
                kind=kind,
                name=item["name"],
                region_id=regions[item["region"]].id,
                station_id=stations[item["station"]].id,
                credit_code=item["credit_code"],
                legal_representative=item["legal_representative"],
                contact_phone=item["contact_phone"],
                description=item["description"],
            )
            session.add(producer)
            producers[item["credit_code"]] = producer
            created["producers"] += 1

    sellers = _by_key(
        session,
        Producer.household_id,
        (households[s["household"]].id for s in data["household_sellers"]),
    )
    for item in data["household_sellers"]:
        household = households[item["household"]]
        producer = sellers.get(household.id)
        if producer is None:
            producer = Producer(
                kind=ProducerKind.household,
                name=item["name"],
                region_id=household.village_id,
                station_id=stations[item["station"]].id,
                household_id=household.id,
                contact_phone=item["contact_phone"],
                description=item["description"],
            )
            session.add(producer)
            created["producers"] += 1
        producers[item["household"]] = producer
    session.flush()

    cooperative_ids = [producers[c["credit_code"]].id for c in data["cooperatives"]]
    known = set(
        session.execute(
            sa.select(
                CooperativeMembership.cooperative_id,
                CooperativeMembership.household_id,
                CooperativeMembership.joined_on,
            ).where(CooperativeMembership.cooperative_id.in_(cooperative_ids))
        ).tuples()
    )
    for item in data["cooperatives"]:
        cooperative = producers[item["credit_code"]]
        for member in item["members"]:
            key = (cooperative.id, households[member["household"]].id, _day(member["joined_on"]))
            if key in known:
                continue
            session.add(
                CooperativeMembership(
                    cooperative_id=key[0],
                    household_id=key[1],
                    joined_on=key[2],
                    shares=member["shares"],
                    left_on=_day(member.get("left_on")),
                )
            )
            created["cooperative_memberships"] += 1
    session.flush()
    return producers


def _load_buying_units(session, data, regions, created) -> dict[str, BuyingUnit]:
    units = _by_key(session, BuyingUnit.name, (u["name"] for u in data))
    for item in data:
        if item["name"] in units:
            continue
        unit = BuyingUnit(
            name=item["name"],
            kind=UnitKind(item["kind"]),
            credit_code=item["credit_code"],
            contact_name=item["contact_name"],
            contact_phone=item["contact_phone"],
            region_id=regions[item["region"]].id if item["region"] else None,
        )
        session.add(unit)
        units[item["name"]] = unit
        created["buying_units"] += 1
    session.flush()

    unit_ids = [u.id for u in units.values()]
    paired = set(
        session.execute(
            sa.select(UnitVillagePairing.unit_id, UnitVillagePairing.village_id).where(
                UnitVillagePairing.unit_id.in_(unit_ids)
            )
        ).tuples()
    )
    quota_years = set(
        session.execute(
            sa.select(UnitPurchaseQuota.unit_id, UnitPurchaseQuota.year).where(
                UnitPurchaseQuota.unit_id.in_(unit_ids)
            )
        ).tuples()
    )
    for item in data:
        unit = units[item["name"]]
        for pairing in item["pairings"]:
            village = regions[pairing["village"]]
            if (unit.id, village.id) in paired:
                continue
            session.add(
                UnitVillagePairing(
                    unit_id=unit.id, village_id=village.id, since=_day(pairing["since"])
                )
            )
            created["unit_village_pairings"] += 1
        for quota in item["quotas"]:
            if (unit.id, quota["year"]) in quota_years:
                continue
            session.add(
                UnitPurchaseQuota(
                    unit_id=unit.id,
                    year=quota["year"],
                    quota_fen=quota["quota_fen"],
                    currency="CNY",
                )
            )
            created["unit_purchase_quotas"] += 1
    session.flush()
    return units


def _load_users(session, data, regions, stations, units, created) -> None:
    existing = _by_key(session, User.username, (u["username"] for u in data))
    for item in data:
        if item["username"] in existing:
            continue
        session.add(
            User(
                username=item["username"],
                password_hash=hash_password(item["password"]),
                display_name=item["display_name"],
                phone=item.get("phone"),
                role=Role(item["role"]),
                station_id=stations[item["station"]].id if "station" in item else None,
                region_id=regions[item["region"]].id if "region" in item else None,
                unit_id=units[item["unit"]].id if "unit" in item else None,
            )
        )
        created["users"] += 1
    session.flush()
