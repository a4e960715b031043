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
    BadCell,
    clean,
    cut,
    fen,
    local_time,
    records,
    whole_number,
)
from marketplace.platform_sales.rows import PlatformRefundStatus, PlatformRow, Problem, RowStatus
from marketplace.reasons import reason

# Why a row's cell cannot be taken (the reasons of the cells' parsers are in ``cells``).
COLUMN_MISSING = reason("platform_cell.column_missing", "column missing")
EMPTY_CELL = reason("platform_cell.empty", "empty")
CONTROL_CHARACTERS = reason("platform_cell.control_characters", "holds control characters")
UNKNOWN_STATUS = reason("platform_cell.unknown_status", "unknown status {status!r}")
UNKNOWN_REFUND_STATE = reason(
    "platform_cell.unknown_refund_state", "unknown refund state {refund_state!r}"
)
# Why a row's cells do not add up.
DISCOUNT_TAKES_ALL = reason(
    "platform_row.discount_takes_whole_line", "the discount takes the whole line"
)
PAID_ABOVE_PRICE = reason(
    "platform_row.paid_above_price", "more than the line's price times quantity"
)
REFUNDS_ABOVE_PAID = reason("platform_row.refunds_above_paid", "refunds more than was paid")
TOTAL_NOT_DIVISIBLE = reason(
    "platform_row.total_not_divisible", "does not divide into {quantity} units"
)
PARTIAL_REFUND_UNSAID = reason(
    "platform_row.partial_refund_unsaid",
    "refunded in part, but the export does not say how much",
)


class _Row:
    """Collects a row's values and problems; each getter names its column in a problem."""

    def __init__(self, line: int, cells: dict):
        self.line, self.cells, self.problems = line, cells, []

    def text(self, column: str, *, required: bool = True) -> str | None:
        if column not in self.cells:
            if required:
                self.problems.append(Problem(self.line, column, COLUMN_MISSING()))
            return None
        value = clean(self.cells[column])
        if value is None and required:
            self.problems.append(Problem(self.line, column, EMPTY_CELL()))
        if value is not None and CONTROL.search(value):
            # NUL and the like are no part of an id or an amount, and no database stores NUL.
            self.problems.append(Problem(self.line, column, CONTROL_CHARACTERS()))
            return None
        return value

    def parsed(self, column: str, parse, *, required: bool = True):
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return parse(value)
        except BadCell as error:
            self.problems.append(Problem(self.line, column, error.reason))
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
        status = self._status(row)
        # Unpaid, or closed before payment: no payment time, and nothing to record.
        paid_at = row.parsed(
            self.paid_at, local_time, required=status not in (RowStatus.unpaid, RowStatus.closed)
        )
        unit_price = self._unit_price(row, quantity)
        refund_state, refunded = self._refund(row, status)
        live = None
        if self.live:
            live = row.text(self.live, required=False) in self.live_values
        if self.seller_discount and not row.problems:
            paid = self._less_discount(row, unit_price * quantity)
        if row.problems:
            return None, row.problems
        if quantity and unit_price is not None and paid > unit_price * quantity:
            return None, [Problem(line, self.paid, PAID_ABOVE_PRICE())]
        if refunded is not None and refunded > paid:
            return None, [Problem(line, self.refunded, REFUNDS_ABOVE_PAID())]
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

    def _status(self, row: _Row) -> RowStatus | None:
        status_text = row.text(self.status)
        status = self.statuses.get(status_text)
        if status_text is not None and status is None:
            row.problems.append(
                Problem(row.line, self.status, UNKNOWN_STATUS(status=cut(status_text)))
            )
        return status

    def _refund(self, row: _Row, status) -> tuple[PlatformRefundStatus, int | None]:
        """What the row says of its refund: the state, and the amount when it says it."""
        refund_state = PlatformRefundStatus.none
        if self.refund_state:
            state_text = row.text(self.refund_state, required=False)
            refund_state = self.refund_states.get(state_text, PlatformRefundStatus.none)
            if state_text is not None and state_text not in self.refund_states:
                row.problems.append(
                    Problem(
                        row.line,
                        self.refund_state,
                        UNKNOWN_REFUND_STATE(refund_state=cut(state_text)),
                    )
                )
        refunded = None
        if self.refunded and refund_state == PlatformRefundStatus.refunded:
            refunded = row.parsed(self.refunded, fen, required=False)
        if status == RowStatus.closed and refund_state == PlatformRefundStatus.none:
            # Closed after payment: everything went back.
            refund_state = PlatformRefundStatus.refunded
        if refunded is None and refund_state == PlatformRefundStatus.refunded and self.refund_note:
            refunded = self._noted_refund(row, status)
        return refund_state, refunded

    def _less_discount(self, row: _Row, gross: int) -> int:
        """What the merchant gets: the line's price × quantity less the discount it bears."""
        discount = row.parsed(self.seller_discount, fen, required=False) or 0
        if discount >= gross:
            row.problems.append(Problem(row.line, self.seller_discount, DISCOUNT_TAKES_ALL()))
        return gross - discount

    def _unit_price(self, row: _Row, quantity: int | None) -> int | None:
        if self.unit_price:
            return row.parsed(self.unit_price, fen)
        total = row.parsed(self.line_total, fen)
        if total is None or not quantity:
            return None
        if total % quantity:
            row.problems.append(
                Problem(row.line, self.line_total, TOTAL_NOT_DIVISIBLE(quantity=quantity))
            )
            return None
        return total // quantity

    def _noted_refund(self, row: _Row, status: str) -> int | None:
        if status == RowStatus.closed:
            return None  # closed: the whole line
        note = row.text(self.refund_note, required=False) or ""
        found = re.search(r"退款\s*([0-9]+(?:\.[0-9]{1,2})?)\s*元", note)
        if found is None:
            row.problems.append(Problem(row.line, self.refund_note, PARTIAL_REFUND_UNSAID()))
            return None
        try:
            return fen(found.group(1))
        except BadCell as error:
            row.problems.append(Problem(row.line, self.refund_note, error.reason))
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
