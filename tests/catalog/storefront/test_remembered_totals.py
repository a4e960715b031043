"""A list's bounded total is remembered by each worker for the catalog generation it was
counted in (listing.list_storefront, local_pages.LocalPages.total): a signed-in list asked again
skips its count, and any change to the catalog, committed by this worker or elsewhere, drops
every remembered total as it drops the copies of pages. (That a remembered total is the one the
count gives is test_relevance_pages.py's walk, page by page and by cursor.)"""

import json
import urllib.request

import pytest

from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, ProductStatus, Sku
from marketplace.catalog.storefront import local_pages, page_cache
from marketplace.db import utcnow
from tests.orders.test_races import _setup_shop
from tests.payments.conftest import eventually
from tests.served import served_app, signed_in_user


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("remembered-totals")) as served:
        yield served


@pytest.fixture
def shop(served):
    """A station's product on sale, a buyer, and a word only this test's products hold."""
    shop.tag = getattr(shop, "tag", 60) + 1
    sku_id, (buyer,) = _setup_shop(served, tag=shop.tag, stock=5, buyers=1)
    with served.session() as session:
        sku = session.get(Sku, sku_id)
        product = session.get(Product, sku.product_id)
        operator = signed_in_user(
            session,
            username=f"counter{shop.tag}",
            role=Role.station,
            display_name="站长",
            station_id=sku.station_id,
        )
        listed = {
            "station_id": product.station_id,
            "producer_id": product.producer_id,
            "origin_village_id": product.origin_village_id,
            "category_id": product.category_id,
        }
    return {"word": f"tally{shop.tag}", "buyer": buyer, "operator": operator, "listed": listed}


def _total(served, shop) -> str:
    request = urllib.request.Request(
        f"{served.base_url}/api/v1/products?q={shop['word']}", headers=shop["buyer"]
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        json.loads(response.read())
        return response.headers["X-Total-Count"]


def _add_product(served, shop, *, announced: bool) -> int:
    """A product holding the word, committed by another process (or behind the app's back
    when not ``announced``: no generation change)."""
    with served.session() as session:
        product = Product(
            **shop["listed"],
            name=f"林下参 {shop['word']}",
            search_text=f"林下参 {shop['word']}",
            unit="盒",
            status=ProductStatus.active,
            min_price_fen=100,
            published_at=utcnow(),
        )
        session.add(product)
        session.flush()
        if announced:
            page_cache.invalidate_pages(session)
            session.info.pop("after_commit", None)  # not this worker's request
        return product.id


def test_a_total_is_remembered_until_the_catalog_changes_elsewhere(served, shop):
    _add_product(served, shop, announced=True)
    eventually(lambda: _total(served, shop) == "1", timeout=2, what="the first product")
    # Listed behind the app's back: the generation has not moved, the total is remembered.
    _add_product(served, shop, announced=False)
    assert _total(served, shop) == "1"
    # Any change announced since moves the generation: the count is taken again.
    _add_product(served, shop, announced=True)
    eventually(lambda: _total(served, shop) == "3", timeout=2, what="the new total")


def test_a_change_through_this_worker_shows_in_the_very_next_total(served, shop):
    product_id = _add_product(served, shop, announced=True)
    eventually(lambda: _total(served, shop) == "1", timeout=2, what="the first product")
    request = urllib.request.Request(
        f"{served.base_url}/api/v1/products/{product_id}/delist",
        method="POST",
        headers=shop["operator"],
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert _total(served, shop) == "0"


class _SilentWatch:
    """A watch that never hears of a change (a notice still on its way)."""

    def poll(self, known):
        return 1

    def close(self):
        pass


def test_a_total_counted_before_this_workers_change_is_not_kept():
    """Threads of one worker: one commits a change while another is still counting; the count
    it finishes with must not be remembered for the new generation."""
    totals = local_pages.LocalPages(_SilentWatch())
    assert totals.total("k") == (1, None)
    totals.keep_total("k", 1, 7)
    assert totals.total("k") == (1, 7)

    generation, _ = totals.total("j")
    totals.catch_up(2)  # this worker's commit of generation 2
    totals.keep_total("j", generation, 5)  # the other thread, finishing late
    assert totals.total("k") == (2, None)
    assert totals.total("j") == (2, None)
