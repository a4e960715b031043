"""What the orders domain announces to the domains above it, which it does not import.

A receiver is called synchronously, in the transaction that made the change, with the same
database session: what it writes commits or rolls back with it (and what it must do outside,
it does once that has committed: ``db.after_commit``).
"""

from blinker import Namespace

_signals = Namespace()

#: Sent as ``unpaid_order_cancelled.send(order, session=..., reason=...)`` when an order that
#: was never paid is cancelled (its hold expired, or its buyer or a station cancelled it),
#: after its state moved and its stock went back. Payments cancel the provider payment it
#: was waiting for, so the buyer cannot pay for what is no longer held.
unpaid_order_cancelled = _signals.signal("unpaid-order-cancelled")
