"""Every transition of both state machines, legal and illegal, from one table."""

import itertools

import pytest

from marketplace.orders import states
from marketplace.orders.models import EventDimension, Order, OrderEvent, OrderStatus, PaymentStatus

S, P = OrderStatus, PaymentStatus

LEGAL_STATUS = {
    (S.pending_payment, S.paid),
    (S.pending_payment, S.cancelled),
    (S.paid, S.shipped),
    (S.paid, S.refunded),
    (S.shipped, S.delivered),
    (S.shipped, S.refunded),
    (S.delivered, S.completed),
    (S.delivered, S.refunded),
    (S.completed, S.refunded),
}
LEGAL_PAYMENT = {
    (P.unpaid, P.paid),
    (P.unpaid, P.void),
    (P.paid, P.partially_refunded),
    (P.paid, P.refunded),
    (P.partially_refunded, P.partially_refunded),
    (P.partially_refunded, P.refunded),
    # A late capture, once it went back in full.
    (P.void, P.late_capture_refunded),
}
ALL = [(a, b, (a, b) in LEGAL_STATUS) for a, b in itertools.product(S, S)] + [
    (a, b, (a, b) in LEGAL_PAYMENT) for a, b in itertools.product(P, P)
]


@pytest.mark.parametrize(("current", "target", "legal"), ALL, ids=lambda v: str(v))
def test_transition_table(session, current, target, legal):
    order = Order(
        id=1,
        number="MK-TEST",
        status=current if isinstance(current, OrderStatus) else S.paid,
        payment_status=current if isinstance(current, PaymentStatus) else P.paid,
    )
    if legal:
        event = states.move(session, order, target, actor_id=None, reason="table")
        session.expunge(event)
        moved = order.status if isinstance(target, OrderStatus) else order.payment_status
        assert moved is target
        assert (event.from_value, event.to_value) == (current.value, target.value)
        expected = (
            EventDimension.status if isinstance(target, OrderStatus) else EventDimension.payment
        )
        assert event.dimension is expected
    else:
        with pytest.raises(states.IllegalTransition) as refused:
            states.move(session, order, target, actor_id=None)
        assert refused.value.status == 409
        assert current.value in refused.value.detail and target.value in refused.value.detail
        assert refused.value.extra == {"current": current.value, "requested": target.value}
        assert not any(isinstance(obj, OrderEvent) for obj in session.new)


def test_terminal_states_have_no_way_out():
    for terminal in (S.cancelled, S.refunded):
        assert not states.STATUS_TRANSITIONS[terminal]
    for terminal in (P.refunded, P.late_capture_refunded):
        assert not states.PAYMENT_TRANSITIONS[terminal]
    # A void order moves once more only to say that money which came late went back.
    assert states.PAYMENT_TRANSITIONS[P.void] == {P.late_capture_refunded}
