"""What an upload does to each (sub-)order: a new one becomes a paid order with its payment
(``recording.record_sales``, a batch at a time), with the refund it arrives with applied; one
imported before only moves on (shipped, completed) and has its new refunds applied, each
reversing exactly what the line attributed."""

import hashlib

import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.orders.models import OrderStatus
from marketplace.platform_sales import recording
from marketplace.platform_sales.models import ImportedLine
from marketplace.platform_sales.recording import Sale, platform_line
from marketplace.platform_sales.rows import PlatformRefundStatus, PlatformRow, RowStatus
from marketplace.reasons import reason

#: The platform's statuses in the order a sale moves through them.
ORDER_STATUS = {
    RowStatus.paid: OrderStatus.paid,
    RowStatus.shipped: OrderStatus.shipped,
    RowStatus.completed: OrderStatus.completed,
    # Closed after payment: recorded as paid, then refunded in full.
    RowStatus.closed: OrderStatus.paid,
}
_PROGRESS = (RowStatus.paid, RowStatus.shipped, RowStatus.completed)

#: amounts in yuan with two decimals, as the export writes them
REFUND_DECREASED = reason(
    "platform_row.refund_decreased",
    "refunds {refunded_yuan} yuan, less than the {earlier_yuan} an earlier export refunded",
)


def create(run, new_rows) -> None:
    if not new_rows:
        return
    sales = [_sale(run, row, facts, session_id) for row, _, facts, session_id in new_rows]
    recorded = recording.record_sales(run.session, sales)
    run.session.execute(
        sa.insert(ImportedLine.__table__),
        [
            {
                "platform": run.platform.name,
                "outside_line_id": row.line_id,
                "outside_order_id": row.order_id,
                "station_id": run.station.id,
                "order_id": order_id,
                "order_line_id": line_ids[0],
                "status": row.status.value,
                "refund_state": row.refund_state.value,
                # The refund it arrives with is applied just below.
                "refunded_fen": _refunded_target(row) or 0,
                "last_import_id": run.import_id,
                "source_line": row.line,
                "row_digest": digest,
                "created_at": utcnow(),
            }
            for (row, digest, _, _), (order_id, line_ids) in zip(new_rows, recorded, strict=True)
        ],
    )
    run.report.created_lines += len(new_rows)
    for (row, _, _, _), (order_id, line_ids) in zip(new_rows, recorded, strict=True):
        target = _refunded_target(row)
        if target:
            _refund(run, row, order_id, line_ids[0], 0, target)


def _sale(run, row: PlatformRow, facts, session_id) -> Sale:
    unit_price = row.unit_price_fen
    note = f"{run.platform.value} order {row.order_id}"
    if row.line_id != row.order_id:
        note += f", sub-order {row.line_id}"
    return Sale(
        platform=run.platform.value,
        reference=row.line_id,
        number="IM" + hashlib.sha1(f"{run.platform}:{row.line_id}".encode()).hexdigest()[:16],
        note=note,
        placed_at=row.placed_at,
        paid_at=row.paid_at,
        livestream_session_id=session_id,
        status=ORDER_STATUS[row.status],
        lines=(
            platform_line(
                sku_id=facts.sku_id,
                product_id=facts.product_id,
                station_id=facts.station_id,
                producer_id=facts.producer_id,
                product_name=facts.product_name,
                sku_spec=facts.spec,
                unit_price_fen=unit_price,
                quantity=row.quantity,
                # What the line brought in: its price × quantity less the seller's discount.
                discount_fen=unit_price * row.quantity - row.paid_fen,
                list_price_fen=facts.price_fen,
            ),
        ),
    )


def update(run, updates) -> None:
    changes = []
    for row, digest, line in updates:
        changed = False
        target = _refunded_target(row, line.line_total_fen)
        if target is not None and target < line.refunded_fen:
            run.fail_row(
                row,
                run.column("refunded") or run.column("refund_state"),
                REFUND_DECREASED(
                    refunded_yuan=_yuan(target), earlier_yuan=_yuan(line.refunded_fen)
                ),
            )
            continue
        if _further(row.status, line.status):
            changed |= recording.advance(
                run.session, line.order_id, ORDER_STATUS[row.status], reason=_reason(run, row)
            )
        if target is not None and target > line.refunded_fen:
            _refund(run, row, line.order_id, line.order_line_id, line.refunded_fen, target, line)
            changed = True
        status = row.status.value if _further(row.status, line.status) else line.status
        changes.append(
            {
                "id": line.id,
                "status": status,
                "refund_state": row.refund_state.value,
                "refunded_fen": max(line.refunded_fen, target or 0),
                "last_import_id": run.import_id,
                "source_line": row.line,
                "row_digest": digest,
            }
        )
        if changed:
            run.report.updated_lines += 1
        else:
            run.report.unchanged_lines += 1
    if changes:
        run.session.execute(sa.update(ImportedLine), changes)


def _refund(run, row, order_id, order_line_id, already, target, line=None) -> None:
    quantity = line.quantity if line else row.quantity
    total = line.line_total_fen if line else row.paid_fen
    amount = target - already
    # Units go back with the last fen: a refund of the whole line returns its units.
    units = quantity if target == total else 0
    recording.refund(
        run.session, order_id, [(order_line_id, amount, units)], reason=_reason(run, row)
    )


def _reason(run, row: PlatformRow) -> str:
    return f"{run.platform.value} export, line {row.line} (import {run.import_id})"


def digest(row: PlatformRow) -> str:
    return hashlib.blake2b(repr(row.fingerprint).encode(), digest_size=16).hexdigest()


def _further(status: str, than: str) -> bool:
    if status not in _PROGRESS or than not in _PROGRESS:
        return False
    return _PROGRESS.index(status) > _PROGRESS.index(than)


def _refunded_target(row: PlatformRow, line_total: int | None = None) -> int | None:
    """What the platform says was refunded of the line so far; None: nothing said."""
    total = row.paid_fen if line_total is None else line_total
    if row.status == RowStatus.closed:
        return total
    if row.refund_state == PlatformRefundStatus.refunded:
        return total if row.refunded_fen is None else min(row.refunded_fen, total)
    return None


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
