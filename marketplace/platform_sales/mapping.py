"""What a station keeps so that its platform exports can be read: which of its SKUs each
platform product id stands for, and the layouts of exports we have no mapping for.

A station maps its own SKUs; an admin any station's. Officials read them.
"""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Sku
from marketplace.db import page_of
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.platform_sales.models import ImportLayout, PlatformProduct
from marketplace.platform_sales.rows import PlatformRefundStatus, RowStatus
from marketplace.producers.scoping import STATIONS
from marketplace.reasons import reason

#: The fields of ours a layout must say where to find, and those it may.
LAYOUT_REQUIRED = ("order_id", "product_key", "quantity", "paid", "placed_at", "paid_at", "status")
LAYOUT_OPTIONAL = (
    "line_id",
    "title",
    "unit_price",
    "line_total",
    "refund_state",
    "refunded",
    "live",
    "host_account",
    "host_name",
)

FOR_STATIONS_AND_ADMINS = reason(
    "platform_map.role_refused", "A station's platform maps are kept by the station or by admins."
)
NOT_A_SKU_OF_STATION = reason("platform_map.sku_of_other_station", "not a SKU of this station")
MAPPED_TWICE = reason("platform_map.mapped_twice", "mapped again (item {item})")
NOT_MAPPED = reason(
    "platform_map.not_mapped", "No {platform} product {outside_id} is mapped for this station."
)
# Why a layout a station describes cannot be read.
COLUMN_UNSAID = reason("import_layout.column_unsaid", "which column holds it?")
PRICE_COLUMN_UNSAID = reason(
    "import_layout.price_column_unsaid", "name the unit price column, or line_total"
)
NOT_OUR_FIELD = reason("import_layout.not_our_field", "not a field of ours")
NOT_A_STATUS = reason("import_layout.not_a_status", "one of {statuses}")
PAID_VALUES_UNSAID = reason(
    "import_layout.paid_values_unsaid", "which values of the status column mean paid?"
)
NOT_A_REFUND_STATE = reason("import_layout.not_a_refund_state", "one of {refund_states}")
REFUND_VALUES_UNSAID = reason(
    "import_layout.refund_values_unsaid", "which values of the refund column mean what?"
)
LIVE_VALUES_UNSAID = reason(
    "import_layout.live_values_unsaid", "which values of the live column mean sold live?"
)
VALUE_OF_TWO_STATUSES = reason(
    "import_layout.value_of_two_statuses", "a value means one status only"
)


def _check_manager(actor: Actor) -> None:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(FOR_STATIONS_AND_ADMINS())


def map_products(session, actor: Actor, station_id: int, items: list[dict]) -> dict:
    """Map platform product ids to the station's SKUs, replacing earlier maps of the same
    ids. All or nothing: a SKU that is not the station's is a 422 naming the item."""
    _check_manager(actor)
    station = STATIONS.get(session, station_id, actor)
    sku_ids = {item["sku_id"] for item in items}
    theirs = set(
        session.execute(
            sa.select(Sku.id).where(Sku.id.in_(sku_ids), Sku.station_id == station.id)
        ).scalars()
    )
    errors: dict = {}
    seen: dict[tuple, int] = {}
    for index, item in enumerate(items):
        key = (item["platform"], item["outside_id"])
        if item["sku_id"] not in theirs:
            errors[f"products.{index}.sku_id"] = [NOT_A_SKU_OF_STATION()]
        if key in seen:
            errors[f"products.{index}.outside_id"] = [MAPPED_TWICE(item=seen[key])]
        seen.setdefault(key, index)
    if errors:
        raise ValidationFailed(errors)
    existing = {
        (row.platform, row.outside_id): row
        for row in session.execute(
            sa.select(PlatformProduct).where(
                PlatformProduct.station_id == station.id,
                sa.tuple_(PlatformProduct.platform, PlatformProduct.outside_id).in_(list(seen)),
            )
        ).scalars()
    }
    created = changed = 0
    for item in items:
        row = existing.get((item["platform"], item["outside_id"]))
        if row is None:
            session.add(
                PlatformProduct(
                    station_id=station.id,
                    platform=item["platform"],
                    outside_id=item["outside_id"],
                    sku_id=item["sku_id"],
                )
            )
            created += 1
        elif row.sku_id != item["sku_id"]:
            row.sku_id = item["sku_id"]
            changed += 1
    session.flush()
    return {"created": created, "changed": changed, "unchanged": len(items) - created - changed}


def list_products(session, actor: Actor, station_id: int, filters: dict, *, page, page_size):
    station = STATIONS.get(session, station_id, actor)
    stmt = sa.select(PlatformProduct).where(PlatformProduct.station_id == station.id)
    if filters.get("platform") is not None:
        stmt = stmt.where(PlatformProduct.platform == filters["platform"])
    return page_of(
        session,
        stmt,
        order_by=[PlatformProduct.platform, PlatformProduct.outside_id],
        page=page,
        page_size=page_size,
    )


def unmap_product(session, actor: Actor, station_id: int, platform, outside_id: str) -> None:
    _check_manager(actor)
    station = STATIONS.get(session, station_id, actor)
    row = session.execute(
        sa.select(PlatformProduct).where(
            PlatformProduct.station_id == station.id,
            PlatformProduct.platform == platform,
            PlatformProduct.outside_id == outside_id,
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(NOT_MAPPED(platform=platform.value, outside_id=outside_id))
    session.delete(row)
    session.flush()


# --- layouts ----------------------------------------------------------------------------------


def _check_layout(data: dict) -> None:
    columns, values = data["columns"], data["values"]
    errors: dict = {}
    for name in LAYOUT_REQUIRED:
        if not columns.get(name):
            errors[f"columns.{name}"] = [COLUMN_UNSAID()]
    if not (columns.get("unit_price") or columns.get("line_total")):
        errors["columns.unit_price"] = [PRICE_COLUMN_UNSAID()]
    for name in set(columns) - set(LAYOUT_REQUIRED) - set(LAYOUT_OPTIONAL):
        errors[f"columns.{name}"] = [NOT_OUR_FIELD()]
    statuses = values.get("statuses", {})
    for name in set(statuses) - {s.value for s in RowStatus}:
        errors[f"values.statuses.{name}"] = [
            NOT_A_STATUS(statuses=", ".join(s.value for s in RowStatus))
        ]
    if not statuses.get("paid"):
        errors["values.statuses.paid"] = [PAID_VALUES_UNSAID()]
    states = values.get("refund_states", {})
    for name in set(states) - {s.value for s in PlatformRefundStatus}:
        errors[f"values.refund_states.{name}"] = [
            NOT_A_REFUND_STATE(refund_states=", ".join(s.value for s in PlatformRefundStatus))
        ]
    if columns.get("refund_state") and not states:
        errors["values.refund_states"] = [REFUND_VALUES_UNSAID()]
    if columns.get("live") and not values.get("live"):
        errors["values.live"] = [LIVE_VALUES_UNSAID()]
    texts = [text for texts in statuses.values() for text in texts]
    if len(texts) != len(set(texts)):
        errors["values.statuses"] = [VALUE_OF_TWO_STATUSES()]
    if errors:
        raise ValidationFailed(errors)


def save_layout(session, actor: Actor, station_id: int, name: str, data: dict) -> ImportLayout:
    """Describe (or describe again) an export layout under a name the station chooses."""
    _check_manager(actor)
    station = STATIONS.get(session, station_id, actor)
    _check_layout(data)
    layout = session.execute(
        sa.select(ImportLayout).where(
            ImportLayout.station_id == station.id, ImportLayout.name == name
        )
    ).scalar_one_or_none()
    if layout is None:
        layout = ImportLayout(station_id=station.id, name=name)
        session.add(layout)
    layout.platform = data["platform"]
    layout.columns = {key: value for key, value in data["columns"].items() if value}
    layout.values = data["values"]
    session.flush()
    return layout


def list_layouts(session, actor: Actor, station_id: int) -> list[ImportLayout]:
    station = STATIONS.get(session, station_id, actor)
    return list(
        session.execute(
            sa.select(ImportLayout)
            .where(ImportLayout.station_id == station.id)
            .order_by(ImportLayout.name)
        ).scalars()
    )
