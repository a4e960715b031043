"""What a platform's export is read into: each row in our terms, or the problems that name its
line and column; and the problem of a file that cannot be read at all. Every problem's reason is
a declared reason's ``Message``: its English text, its code and parameters."""

import enum
from dataclasses import dataclass, field
from datetime import datetime

from marketplace.reasons import Message


class RowStatus(enum.StrEnum):
    """Where the platform says a (sub-)order is."""

    unpaid = "unpaid"
    paid = "paid"
    shipped = "shipped"
    completed = "completed"
    #: closed after payment: the money went back
    closed = "closed"


class PlatformRefundStatus(enum.StrEnum):
    """What the platform says of a (sub-)order's refund (our own refunds have ``RefundState``)."""

    none = "none"
    pending = "pending"
    refunded = "refunded"


@dataclass(frozen=True)
class Problem:
    line: int
    column: str | None
    reason: Message

    def as_dict(self) -> dict:
        """As an upload's report keeps it: the reason's text, and its code and parameters for
        a client to say it in its own language."""
        return {
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "code": self.reason.code,
            "params": self.reason.params,
        }


@dataclass(frozen=True)
class PlatformRow:
    """One (sub-)order line of a platform's export, in our terms."""

    line: int
    order_id: str
    line_id: str
    product_key: str
    title: str | None
    quantity: int
    unit_price_fen: int
    #: what the merchant gets for the line, after the discounts it bears
    paid_fen: int
    placed_at: datetime
    paid_at: datetime | None
    status: str
    refund_state: str
    #: the amount refunded so far when the export says it; None: only the state is known
    refunded_fen: int | None
    #: whether the platform says the sale was made in a livestream; None: it does not say
    live: bool | None
    host_account: str | None = None
    host_name: str | None = None
    #: the row's cells, to tell an exact duplicate from a row that contradicts another
    fingerprint: tuple = field(default=(), compare=False)


class FileProblem(Exception):
    """The file as a whole cannot be read (its encoding, its header)."""

    def __init__(self, reason: Message, *, field: str = "file"):
        super().__init__(reason)
        self.reason, self.field = reason, field
