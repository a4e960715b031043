"""Stripe's refund events in any order and any number of times: a refund, its ledger
reversal and the order's refunded figures end in the state Stripe last reports for it
(succeeded; or failed, when it never succeeded), counted exactly once."""

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.catalog.models import Sku
from marketplace.ledger.models import EntryKind, JournalEntry
from marketplace.orders.models import Order
from marketplace.payments.models import Payment, PaymentEvent, Refund
from marketplace.reports import reconciliation
from tests.payments.conftest import event, refund_object

#: Each event Stripe may send about a refund, as the webhook receives it.
KINDS = ("refund.created", "refund.updated", "charge.refund.updated", "charge.refunded")


@st.composite
def histories(draw):
    """The events of one refund's history, shuffled and repeated: pending first, possibly a
    failure Stripe then retried, and its end (succeeded, or failed for good)."""
    final = draw(st.sampled_from(["succeeded", "failed"]))
    states = ["pending", final]
    if final == "succeeded" and draw(st.booleans()):
        states.insert(1, "failed")
    deliveries = []
    for state in states:
        for _ in range(draw(st.integers(1, 3))):
            deliveries.append((draw(st.sampled_from(KINDS)), state))
    return final, draw(st.permutations(deliveries))


def _as_event(kind: str, state: str, refund: Refund) -> dict:
    obj = refund_object(refund.provider_reference, refund_id=refund.id, amount=6800, status=state)
    if kind == "charge.refunded":
        return event(kind, {"id": "ch_1", "object": "charge", "refunds": {"data": [obj]}})
    return event(kind, obj)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_any_order_of_refund_events_ends_in_stripes_state_once(
    session, shop, paid_stripe_order, client, stand_in_stripe, send_event, history
):
    final, deliveries = history
    session.execute(sa.update(Sku).where(Sku.id == shop.sku_500g.id).values(stock=10))
    order = paid_stripe_order((shop.sku_500g, 1))
    line = order["lines"][0]
    asked = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"lines": [{"order_line_id": line["id"], "quantity": 1}], "reason": "bruised"},
        headers=shop.station_headers,
    )
    assert asked.status_code == 201, asked.json
    refund = session.get(Refund, asked.json["id"])
    for kind, state in deliveries:
        response = send_event(_as_event(kind, state, refund))
        assert response.status_code == 200, response.json

    session.expire_all()
    refund = session.get(Refund, refund.id)
    assert refund.state.value == final
    succeeded = final == "succeeded"
    row = session.get(Order, order["id"])
    assert row.refunded_fen == (6800 if succeeded else 0)
    assert row.payment_status.value == ("refunded" if succeeded else "paid")
    payment = session.execute(sa.select(Payment).where(Payment.order_id == row.id)).scalar_one()
    assert payment.refunded_fen == row.refunded_fen
    reversals = session.execute(
        sa.select(sa.func.count(JournalEntry.id)).where(
            JournalEntry.kind == EntryKind.refund_reversal, JournalEntry.order_id == row.id
        )
    ).scalar_one()
    assert reversals == (1 if succeeded else 0)
    kinds = session.execute(
        sa.select(PaymentEvent.kind).where(PaymentEvent.payment_id == payment.id)
    ).scalars()
    assert [k.value for k in kinds].count("refund_succeeded") == (1 if succeeded else 0)
    assert reconciliation.run(session).differences == []


@pytest.fixture(autouse=True)
def _refunds_answered_pending(stand_in_stripe):
    """Stripe's answer leaves each refund pending: the events alone settle it."""
    stand_in_stripe.refund_status = "pending"
