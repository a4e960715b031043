"""The SKUs a session features at live prices, and how checkout applies them.

A session features its organiser's SKUs (a county-led session, those of its region's
stations) at a price above 0 and not above the catalog's, with an optional cap on the units
sold at it. While the session is live, checkout charges the live price for as many units as
the cap has left, counting them under the live price's row lock (``lock_live_prices``,
``count_live_units``), so the cap is as hard as stock. These are the only places the rule is
written: the step-by-step checkout calls them, and the one-statement checkout builds its
statement from ``LIVE_UNITS`` and ``live_units_counted``.
"""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.catalog.models import Product, Sku
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.livestreams.models import LivePrice, LivestreamSession, SessionState
from marketplace.livestreams.service import OPEN, check_manager, get_session
from marketplace.producers.models import Station
from marketplace.reasons import reason
from marketplace.regions.service import in_subtree_of

SKU_NOT_THE_ORGANISERS = reason(
    "live_price.sku_not_the_organisers", "not a SKU this session's organiser lists"
)
NO_OPEN_SESSION = reason(
    "live_session.no_open_session_with_code", "No scheduled or live session has the code {code}."
)
FEATURED_FINAL = reason(
    "live_session.featured_final", "Session {code} is {state}; its featured SKUs are final."
)
SESSION_CLOSED = reason("live_session.closed", "Session {code} is {state}.")
PRICE_ABOVE_CATALOG = reason(
    "sku.price_above_catalog", "above the catalog price, {catalog_price_fen} fen"
)
CAP_BELOW_SOLD = reason(
    "live_price.cap_below_sold", "below the {sold} units already sold at the live price"
)
NOT_FEATURED = reason("live_price.not_featured", "SKU {sku_id} is not featured in session {code}.")
HAS_SALES = reason(
    "live_price.has_sales",
    "{sold} units were sold at this live price; set its cap to {sold} to stop selling at it "
    "instead.",
)
SKU_HAS_SALES = reason("live_price.sku_has_sales", "has sales at the live price")


def featured(session, session_ids) -> dict[int, list]:
    """The featured SKUs of each session, with what buyers see of them."""
    rows = session.execute(
        sa.select(
            LivePrice.session_id,
            LivePrice.id,
            LivePrice.sku_id,
            LivePrice.price_fen,
            LivePrice.cap,
            LivePrice.sold,
            Sku.code,
            Sku.spec,
            Sku.price_fen.label("catalog_price_fen"),
            Sku.product_id,
            Product.name.label("product_name"),
        )
        .join(Sku, Sku.id == LivePrice.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(LivePrice.session_id.in_(list(session_ids)))
        .order_by(LivePrice.id)
    )
    found: dict[int, list] = {session_id: [] for session_id in session_ids}
    for row in rows:
        found[row.session_id].append(
            {
                "live_price_id": row.id,
                "sku_id": row.sku_id,
                "sku_code": row.code,
                "spec": row.spec,
                "product_id": row.product_id,
                "product_name": row.product_name,
                "catalog_price_fen": row.catalog_price_fen,
                "live_price_fen": row.price_fen,
                "cap": row.cap,
                "sold": row.sold,
                "left": None if row.cap is None else row.cap - row.sold,
            }
        )
    return found


def with_featured(session, sessions: list[LivestreamSession]) -> list[LivestreamSession]:
    by_session = featured(session, [s.id for s in sessions])
    for live_session in sessions:
        live_session.featured = by_session[live_session.id]
    return sessions


def _sku_for(session, live_session: LivestreamSession, sku_id: int):
    """The SKU, if this session may feature it: its organiser's own, or (county-led) one a
    station of its region lists; otherwise a 422 on sku_id."""
    stmt = sa.select(Sku).where(Sku.id == sku_id)
    if live_session.station_id is not None:
        stmt = stmt.where(Sku.station_id == live_session.station_id)
    else:
        stations = sa.select(Station.id).where(
            in_subtree_of(Station.village_id, live_session.region_id)
        )
        stmt = stmt.where(Sku.station_id.in_(stations))
    sku = session.execute(stmt).scalar_one_or_none()
    if sku is None:
        raise ValidationFailed({"sku_id": [SKU_NOT_THE_ORGANISERS()]})
    return sku


def public_session(session, code: str) -> LivestreamSession:
    """A session's public page, by its code: what anyone watching may order at which price."""
    found = session.execute(
        sa.select(LivestreamSession).where(
            LivestreamSession.code == code,
            LivestreamSession.state.in_((SessionState.scheduled, SessionState.live)),
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(NO_OPEN_SESSION(code=code))
    return with_featured(session, [found])[0]


def feature(session, actor: Actor, session_id: int, sku_id: int, data: dict) -> dict:
    """Feature a SKU at a live price (above 0, not above its catalog price), with an optional
    cap on the units sold at that price; or change its price or cap. A cap below what was
    already sold is refused."""
    check_manager(actor)
    live_session = get_session(session, actor, session_id)
    if live_session.state not in OPEN:
        raise Conflict(FEATURED_FINAL(code=live_session.code, state=live_session.state.value))
    sku = _sku_for(session, live_session, sku_id)
    errors: dict = {}
    if data["price_fen"] > sku.price_fen:
        errors["price_fen"] = [PRICE_ABOVE_CATALOG(catalog_price_fen=sku.price_fen)]
    existing = session.execute(
        sa.select(LivePrice)
        .where(LivePrice.session_id == live_session.id, LivePrice.sku_id == sku.id)
        .with_for_update()
    ).scalar_one_or_none()
    sold = existing.sold if existing else 0
    if data.get("cap") is not None and data["cap"] < sold:
        errors["cap"] = [CAP_BELOW_SOLD(sold=sold)]
    if errors:
        raise ValidationFailed(errors)
    if existing is None:
        existing = LivePrice(session_id=live_session.id, sku_id=sku.id, sold=0)
        session.add(existing)
    existing.price_fen = data["price_fen"]
    existing.cap = data.get("cap")
    session.flush()
    return featured(session, [live_session.id])[live_session.id]


def unfeature(session, actor: Actor, session_id: int, sku_id: int) -> None:
    check_manager(actor)
    live_session = get_session(session, actor, session_id)
    if live_session.state not in OPEN:
        raise Conflict(SESSION_CLOSED(code=live_session.code, state=live_session.state.value))
    price = session.execute(
        sa.select(LivePrice)
        .where(LivePrice.session_id == live_session.id, LivePrice.sku_id == sku_id)
        .with_for_update()
    ).scalar_one_or_none()
    if price is None:
        raise NotFound(NOT_FEATURED(sku_id=sku_id, code=live_session.code))
    if price.sold:
        raise Conflict(
            HAS_SALES(sold=price.sold),
            errors={"sku_id": [SKU_HAS_SALES()]},
        )
    session.delete(price)
    session.flush()


# --- at checkout ------------------------------------------------------------------------------


def session_by_code(code) -> sa.Select:
    """The session a basket names by its code: its id, and whether its live prices apply
    (it is live). ``code`` is a value or a bound parameter."""
    return sa.select(
        LivestreamSession.id.label("session_id"),
        (LivestreamSession.state == SessionState.live).label("is_live"),
    ).where(LivestreamSession.code == code)


def locked_for_basket(session_id, sku_ids) -> sa.Select:
    """A session's live prices of the SKUs ``sku_ids``, locked in id order for the rest of the
    transaction: checkout takes these locks before the SKUs', in both of its paths, so two
    baskets never deadlock and the units counted against a cap cannot move until commit. It
    is ``FOR NO KEY UPDATE``, as the SKUs' lock is (``catalog.stock.locked_for_sale``): the
    units sold are no key, so two sales at a live price still queue on it, but a transaction
    holding the KEY SHARE lock that inserting a row referring to it takes (an order line at
    that price) does not hold a sale up."""
    return (
        sa.select(
            LivePrice.id,
            LivePrice.sku_id,
            LivePrice.price_fen,
            LivePrice.cap,
            LivePrice.sold,
        )
        .where(LivePrice.session_id == session_id, LivePrice.sku_id.in_(sku_ids))
        .order_by(LivePrice.id)
        .with_for_update(of=LivePrice, key_share=True)
    )


def live_units(cap: int | None, sold: int, quantity: int) -> int:
    """How many of ``quantity`` units a live price still covers: all of them without a cap,
    else what the cap has left."""
    left = quantity if cap is None else cap - sold
    return min(quantity, max(left, 0))


def live_units_sql(price_id, cap, sold, quantity) -> sa.ColumnElement[int]:
    """``live_units`` in a statement, for a live price that may be missing (``price_id``
    NULL: the SKU is not featured, or the session is not live)."""
    return sa.case(
        (price_id.is_(None), 0),
        (cap.is_(None), quantity),
        else_=sa.func.least(quantity, sa.func.greatest(cap - sold, 0)),
    )


def count_live_units(session, taken: dict[int, int]) -> int:
    """Count units sold at live prices (``{live price id: units}``), within each cap. Returns
    how many live prices took them."""
    if not taken:
        return 0
    amount = sa.case(taken, value=LivePrice.id)
    result = session.execute(
        sa.update(LivePrice)
        .where(
            LivePrice.id.in_(taken),
            sa.or_(LivePrice.cap.is_(None), LivePrice.sold + amount <= LivePrice.cap),
        )
        .values(sold=LivePrice.sold + amount)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def live_units_counted(basket, gate) -> sa.Update:
    """For a statement that has locked the live prices: count each ``basket`` row's
    ``live_quantity`` on the live price it locked (``live_id``, ``live_sold``), when ``gate``
    (a CTE) has a row. As ``catalog.stock.stock_taken`` does, it sets the locked count plus the
    units instead of filtering on its own snapshot; ``live_units_sql`` kept them within the
    cap, and the CHECK constraint backs it."""
    return (
        sa.update(LivePrice)
        .values(sold=basket.c.live_sold + basket.c.live_quantity)
        .where(LivePrice.id == basket.c.live_id, basket.c.live_quantity > 0)
        .where(sa.exists(sa.select(1).select_from(gate)))
        .returning(LivePrice.id)
    )
