"""An imported sale's history, as the API shows it: one event from nothing to the status the
platform's export found it in (and one to paid), then each move a later export makes, every
event starting where the one before it ended."""

from marketplace.livestreams.models import Platform
from tests.ledger.conftest import money  # noqa: F401  (shared fixture)
from tests.platform_sales.test_imports import imported, upload, village  # noqa: F401


def _history(client, village, order) -> list[tuple]:
    detail = client.get(f"/api/v1/orders/{order.id}", headers=village.headers).json
    return [(e["dimension"], e["from_value"], e["to_value"]) for e in detail["events"]]


def _chained(history: list[tuple]) -> bool:
    """Each dimension's events follow on: every move starts where the one before it ended."""
    last: dict[str, str | None] = {}
    for dimension, before, after in history:
        if last.get(dimension) != before:
            return False
        last[dimension] = after
    return True


def test_an_imported_sale_opens_at_its_platform_status_and_moves_on(client, session, village):
    assert upload(client, village, "douyin", "douyin_orders.csv").status_code == 201
    lines = imported(session, Platform.douyin)
    opened = {line_id: _history(client, village, order) for line_id, (order, _) in lines.items()}
    # Completed on Douyin when exported: no steps written as if they happened at payment.
    assert opened["6920250912000000103"] == [
        ("status", None, "completed"),
        ("payment", None, "paid"),
    ]
    # Closed after payment: opened paid, then refunded in full.
    assert opened["6920250912000000198"] == [
        ("status", None, "paid"),
        ("payment", None, "paid"),
        ("payment", "paid", "refunded"),
        ("status", "paid", "refunded"),
    ]
    assert all(_chained(history) for history in opened.values())

    assert upload(client, village, "douyin", "douyin_orders_2.csv").status_code == 201
    lines = imported(session, Platform.douyin)
    # Paid when first exported, shipped in the later export: the move is the later export's.
    shipped = _history(client, village, lines["6920250914000000301"][0])
    assert shipped[0] == ("status", None, opened["6920250914000000301"][0][2])
    assert shipped[-1][2] == "shipped" and len(shipped) > 2
    # Completed, then refunded weeks later.
    assert _history(client, village, lines["6920250912000000102"][0]) == [
        ("status", None, "completed"),
        ("payment", None, "paid"),
        ("payment", "paid", "refunded"),
        ("status", "completed", "refunded"),
    ]
    for order, _ in lines.values():
        assert _chained(_history(client, village, order))
