"""SKUs: prices in fen, counted stock, and the lowest price the list sorts by."""

import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductStatus, Sku

PROBLEM = "application/problem+json"


def sku_body(**over):
    data = {"code": "LM-2KG", "spec": "2kg 家庭装", "price_fen": 4500, "stock": 8}
    data.update(over)
    return data


def skus_of(session, product_id):
    session.expire_all()
    return session.execute(
        sa.select(Sku.code, Sku.price_fen, Sku.stock, Sku.is_active)
        .where(Sku.product_id == product_id)
        .order_by(Sku.id)
    ).all()


def test_add_sku_lowers_the_listed_price(client, session, world, listed):
    product = listed(world.station_a, world.producer_a)  # one SKU at 6800
    response = client.post(
        f"/api/v1/products/{product.id}/skus", json=sku_body(weight_grams=2100), headers=world.a
    )
    assert response.status_code == 201, response.json
    assert response.json["code"] == "LM-2KG"
    assert response.json["price_fen"] == 4500
    assert response.json["currency"] == "CNY"
    assert response.json["weight_grams"] == 2100
    session.expire_all()
    assert session.get(Product, product.id).min_price_fen == 4500


def test_add_sku_bad_input_names_the_field(client, session, world, listed):
    product = listed(world.station_a, world.producer_a)
    before = skus_of(session, product.id)
    for payload, field in (
        (sku_body(price_fen=45.5), "price_fen"),
        (sku_body(price_fen=-1), "price_fen"),
        (sku_body(stock=None), "stock"),
        (sku_body(code="有 空格"), "code"),
        (sku_body(weight_grams=0), "weight_grams"),
        (sku_body(code=f"P{product.id}-0"), "code"),  # the fixture's SKU code: taken
    ):
        response = client.post(f"/api/v1/products/{product.id}/skus", json=payload, headers=world.a)
        assert response.status_code == 422, payload
        assert response.mimetype == PROBLEM
        assert field in response.json["errors"]
    assert skus_of(session, product.id) == before


def test_add_sku_to_another_stations_product_is_404(client, session, world, listed):
    theirs = listed(world.station_b, world.producer_b)
    before = skus_of(session, theirs.id)
    response = client.post(f"/api/v1/products/{theirs.id}/skus", json=sku_body(), headers=world.a)
    assert response.status_code == 404
    assert "6800" not in response.get_data(as_text=True)
    assert skus_of(session, theirs.id) == before
    assert client.post(f"/api/v1/products/{theirs.id}/skus", json=sku_body()).status_code == 401


def test_patch_sku_price_and_stock(client, session, world, listed):
    product = listed(
        world.station_a,
        world.producer_a,
        skus=[
            {"spec": "500g", "price_fen": 6800, "stock": 3},
            {"spec": "1kg", "price_fen": 9900, "stock": 1},
        ],
    )
    first = (
        session.execute(sa.select(Sku).where(Sku.product_id == product.id).order_by(Sku.id))
        .scalars()
        .first()
    )
    url = f"/api/v1/products/{product.id}/skus/{first.id}"
    body = {"price_fen": 12000, "stock": 42, "version": 1}
    response = client.patch(url, json=body, headers=world.a)
    assert response.status_code == 200, response.json
    assert (response.json["price_fen"], response.json["stock"]) == (12000, 42)
    session.expire_all()
    assert session.get(Product, product.id).min_price_fen == 9900
    # Deactivating the cheaper one moves the listed price too.
    assert client.patch(url, json={"price_fen": 5000, "version": 2}, headers=world.a).json
    assert client.patch(url, json={"is_active": False, "version": 3}, headers=world.a).json
    session.expire_all()
    assert session.get(Product, product.id).min_price_fen == 9900


def test_last_active_sku_of_an_active_product_cannot_be_switched_off(
    client, session, world, listed
):
    product = listed(world.station_a, world.producer_a)
    sku_id = session.execute(sa.select(Sku.id).where(Sku.product_id == product.id)).scalar_one()
    url = f"/api/v1/products/{product.id}/skus/{sku_id}"
    response = client.patch(
        url, json={"is_active": False, "stock": 0, "version": 1}, headers=world.a
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"is_active"}
    assert skus_of(session, product.id)[0][2:] == (20, True)
    # Once delisted it may.
    client.post(f"/api/v1/products/{product.id}/delist", headers=world.a)
    delisted = client.patch(url, json={"is_active": False, "version": 1}, headers=world.a)
    assert delisted.status_code == 200
    session.expire_all()
    assert session.get(Product, product.id).min_price_fen is None
    assert session.get(Product, product.id).status is ProductStatus.delisted


def test_patch_sku_errors(client, session, world, listed):
    mine = listed(world.station_a, world.producer_a)
    theirs = listed(world.station_b, world.producer_b)
    my_sku = session.execute(sa.select(Sku.id).where(Sku.product_id == mine.id)).scalar_one()
    their_sku = session.execute(sa.select(Sku.id).where(Sku.product_id == theirs.id)).scalar_one()
    before = skus_of(session, theirs.id)
    url = f"/api/v1/products/{mine.id}/skus/{my_sku}"
    for payload, field in (
        ({"price_fen": 0}, "price_fen"),
        ({"stock": 1.5}, "stock"),
        ({"code": "NEW"}, "code"),
    ):
        response = client.patch(url, json=payload, headers=world.a)
        assert response.status_code == 422
        assert field in response.json["errors"]
    # Another station's SKU, directly or through my product: 404 either way.
    for path in (
        f"/api/v1/products/{theirs.id}/skus/{their_sku}",
        f"/api/v1/products/{mine.id}/skus/{their_sku}",
    ):
        response = client.patch(path, json={"price_fen": 1, "version": 1}, headers=world.a)
        assert response.status_code == 404
    assert client.patch(url, json={"price_fen": 1}).status_code == 401
    assert skus_of(session, theirs.id) == before


def test_an_edit_from_a_stale_version_is_a_409_naming_the_current_one(
    client, session, world, listed
):
    product = listed(world.station_a, world.producer_a)
    sku_id = session.execute(sa.select(Sku.id).where(Sku.product_id == product.id)).scalar_one()
    url = f"/api/v1/products/{product.id}/skus/{sku_id}"
    # Two operators read version 1; the first saves a price, the second a stock count.
    first = client.patch(url, json={"price_fen": 8800, "version": 1}, headers=world.a)
    assert (first.status_code, first.json["version"]) == (200, 2)
    second = client.patch(url, json={"stock": 3, "version": 1}, headers=world.a)
    assert second.status_code == 409
    assert second.json["code"] == "version.stale" and second.json["params"]["version"] == 2
    assert skus_of(session, product.id)[0][2] == 20  # the stock count was not applied
    missing = client.patch(url, json={"stock": 3}, headers=world.a)
    assert missing.status_code == 422 and "version" in missing.json["errors"]
