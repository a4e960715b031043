"""How a platform's export reads (``Layout``): its columns and what their values mean, turning
each row into a ``PlatformRow`` or into problems naming the line and column. The platforms'
own layouts are in ``formats/``; a station describes one we do not know (``generic_layout``).
Nothing here touches the database.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from marketplace.livestreams.models import Platform
from marketplace.platform_sales.cells import (
    CONTROL,
    clean,
    fen,
    local_time,
    records,
    shown,
    whole_number,
)
from marketplace.platform_sales.rows import PlatformRefundStatus, PlatformRow, Problem, RowStatus


class _Row:
    """Collects a row's values and problems; each getter names its column in a problem."""

    def __init__(self, line: int, cells: dict):
        self.line, self.cells, self.problems = line, cells, []

    def text(self, column: str, *, required: bool = True) -> str | None:
        if column not in self.cells:
            if required:
                self.problems.append(Problem(self.line, column, "column missing"))
            return None
        value = clean(self.cells[column])
        if value is None and required:
            self.problems.append(Problem(self.line, column, "empty"))
        if value is not None and CONTROL.search(value):
            # NUL and the like are no part of an id or an amount, and no database stores NUL.
            self.problems.append(Problem(self.line, column, "holds control characters"))
            return None
        return value

    def parsed(self, column: str, parse, *, required: bool = True):
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as error:
            self.problems.append(Problem(self.line, column, str(error)))
            return None

    def fingerprint(self) -> tuple:
        return tuple(sorted((k, clean(v)) for k, v in self.cells.items()))


@dataclass(frozen=True)
class Layout:
    """How one platform's export reads: its columns and what their values mean."""

    platform: Platform
    order_id: str
    line_id: str | None
    product_key: str
    title: str | None
    quantity: str
    #: the unit price column; None when the export has only the line's total
    unit_price: str | None
    line_total: str | None
    paid: str
    placed_at: str
    paid_at: str
    status: str
    statuses: dict
    refund_state: str | None = None
    refund_states: dict = field(default_factory=dict)
    refunded: str | None = None
    live: str | None = None
    live_values: frozenset = frozenset()
    host_account: str | None = None
    host_name: str | None = None
    #: a note where the merchant writes a partial refund's amount (部分退款45元)
    refund_note: str | None = None
    #: when set, what the merchant gets is price × quantity less this column (the discount
    #: the merchant bears), and ``paid`` is only checked: the buyer's payment also nets the
    #: platform's and the host's subsidies, which the platform pays the merchant back, and
    #: adds the shipping fee, which is no sale of produce
    seller_discount: str | None = None

    def required_columns(self) -> list[str]:
        names = [
            self.order_id,
            self.line_id,
            self.product_key,
            self.quantity,
            self.unit_price or self.line_total,
            self.paid,
            self.placed_at,
            self.paid_at,
            self.status,
        ]
        return [name for name in dict.fromkeys(names) if name]

    def read(self, line: int, cells: dict) -> tuple[PlatformRow | None, list[Problem]]:
        row = _Row(line, cells)
        order_id = row.text(self.order_id)
        line_id = row.text(self.line_id) if self.line_id else order_id
        product_key = row.text(self.product_key)
        quantity = row.parsed(self.quantity, whole_number)
        paid = row.parsed(self.paid, fen)
        placed_at = row.parsed(self.placed_at, local_time)
        status_text = row.text(self.status)
        status = self.statuses.get(status_text)
        if status_text is not None and status is None:
            row.problems.append(Problem(line, self.status, f"unknown status {shown(status_text)}"))
        # Unpaid, or closed before payment: no payment time, and nothing to record.
        paid_at = row.parsed(
            self.paid_at, local_time, required=status not in (RowStatus.unpaid, RowStatus.closed)
        )
        unit_price = self._unit_price(row, quantity)
        refund_state = PlatformRefundStatus.none
        if self.refund_state:
            state_text = row.text(self.refund_state, required=False)
            refund_state = self.refund_states.get(state_text, PlatformRefundStatus.none)
            if state_text is not None and state_text not in self.refund_states:
                row.problems.append(
                    Problem(line, self.refund_state, f"unknown refund state {shown(state_text)}")
                )
        refunded = None
        if self.refunded and refund_state == PlatformRefundStatus.refunded:
            refunded = row.parsed(self.refunded, fen, required=False)
        if status == RowStatus.closed and refund_state == PlatformRefundStatus.none:
            refund_state = (
                PlatformRefundStatus.refunded
            )  # closed after payment: everything went back
        if refunded is None and refund_state == PlatformRefundStatus.refunded and self.refund_note:
            refunded = self._noted_refund(row, status)
        live = None
        if self.live:
            live = row.text(self.live, required=False) in self.live_values
        if self.seller_discount and not row.problems:
            discount = row.parsed(self.seller_discount, fen, required=False) or 0
            gross = unit_price * quantity
            if discount >= gross:
                row.problems.append(
                    Problem(line, self.seller_discount, "the discount takes the whole line")
                )
            paid = gross - discount
        if row.problems:
            return None, row.problems
        if quantity and unit_price is not None and paid > unit_price * quantity:
            return None, [Problem(line, self.paid, "more than the line's price times quantity")]
        if refunded is not None and refunded > paid:
            return None, [Problem(line, self.refunded, "refunds more than was paid")]
        return (
            PlatformRow(
                line=line,
                order_id=order_id,
                line_id=line_id,
                product_key=product_key,
                title=row.text(self.title, required=False) if self.title else None,
                quantity=quantity,
                unit_price_fen=unit_price,
                paid_fen=paid,
                placed_at=placed_at,
                paid_at=paid_at,
                status=status,
                refund_state=refund_state,
                refunded_fen=refunded,
                live=live,
                host_account=row.text(self.host_account, required=False)
                if self.host_account
                else None,
                host_name=row.text(self.host_name, required=False) if self.host_name else None,
                fingerprint=row.fingerprint(),
            ),
            [],
        )

    def _unit_price(self, row: _Row, quantity: int | None) -> int | None:
        if self.unit_price:
            return row.parsed(self.unit_price, fen)
        total = row.parsed(self.line_total, fen)
        if total is None or not quantity:
            return None
        if total % quantity:
            row.problems.append(
                Problem(row.line, self.line_total, f"does not divide into {quantity} units")
            )
            return None
        return total // quantity

    def _noted_refund(self, row: _Row, status: str) -> int | None:
        if status == RowStatus.closed:
            return None  # closed: the whole line
        note = row.text(self.refund_note, required=False) or ""
        found = re.search(r"退款\s*([0-9]+(?:\.[0-9]{1,2})?)\s*元", note)
        if found is None:
            row.problems.append(
                Problem(
                    row.line,
                    self.refund_note,
                    "refunded in part, but the export does not say how much",
                )
            )
            return None
        try:
            return fen(found.group(1))
        except ValueError as error:
            row.problems.append(Problem(row.line, self.refund_note, str(error)))
            return None


def rows(layout: Layout, stream) -> Iterator[tuple[PlatformRow | None, list[Problem]]]:
    for line, cells in records(stream, layout.required_columns()):
        yield layout.read(line, cells)


def generic_layout(platform: Platform, columns: dict, values: dict) -> Layout:
    """A layout a station describes for an export we have no mapping for: which column holds
    each of our fields, and which of its values mean what."""
    return Layout(
        platform=platform,
        order_id=columns["order_id"],
        line_id=columns.get("line_id"),
        product_key=columns["product_key"],
        title=columns.get("title"),
        quantity=columns["quantity"],
        unit_price=columns.get("unit_price"),
        line_total=columns.get("line_total"),
        paid=columns["paid"],
        placed_at=columns["placed_at"],
        paid_at=columns["paid_at"],
        status=columns["status"],
        statuses={
            text: RowStatus(status)
            for status, texts in values.get("statuses", {}).items()
            for text in texts
        },
        refund_state=columns.get("refund_state"),
        refund_states={
            text: PlatformRefundStatus(state)
            for state, texts in values.get("refund_states", {}).items()
            for text in texts
        },
        refunded=columns.get("refunded"),
        live=columns.get("live"),
        live_values=frozenset(values.get("live", [])),
        host_account=columns.get("host_account"),
        host_name=columns.get("host_name"),
    )
