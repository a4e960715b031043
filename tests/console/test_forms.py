"""A form's text refused with the reasons the API gives: amounts in yuan, whole numbers."""

import pytest

from marketplace.catalog.schemas import ProductIn, SkuUpdateIn
from marketplace.console import forms
from marketplace.errors import ValidationFailed
from tests.console.conftest import csrf_of


def refused(form: dict) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        forms.load(
            SkuUpdateIn(),
            {"version": "1", **form},
            yuan={"price": "price_fen"},
            whole=("stock", "version"),
        )
    return {
        field: [(reason.code, reason.params) for reason in reasons]
        for field, reasons in caught.value.errors.items()
    }


def test_an_amount_in_yuan_becomes_fen(app):
    loaded = forms.load(
        SkuUpdateIn(),
        {"price": "¥1,039.8", "stock": "12", "version": "1"},
        yuan={"price": "price_fen"},
        whole=("stock", "version"),
    )
    assert loaded == {"price_fen": 103980, "stock": 12, "version": 1}


@pytest.mark.parametrize(
    ("price", "code"),
    [
        ("39,80元", "yuan.not_an_amount"),
        ("12.345", "yuan.finer_than_fen"),
        ("NaN", "yuan.not_an_amount"),
        ("Infinity", "yuan.not_an_amount"),
        ("100000000.01", "yuan.too_large"),
        # Beyond what a decimal quantized to fen can hold: refused, not a server error.
        ("1e30", "yuan.too_large"),
        ("1e999", "yuan.too_large"),
        ("1e400", "yuan.too_large"),
        ("-1e999", "yuan.too_large"),
        ("12345678901234567890", "yuan.too_large"),
        ("1E+999999999999", "yuan.too_large"),
        ("0.00000000000000000000000000001", "yuan.finer_than_fen"),
    ],
)
def test_a_bad_amount_is_refused_with_its_reason(app, price, code):
    assert refused({"price": price}) == {"price_fen": [(code, {})]}


def test_a_count_that_is_no_whole_number_is_refused_as_the_api_refuses_it(app):
    assert refused({"stock": "7.5"}) == {"stock": [("field.not_an_integer", {})]}


def test_the_page_shows_the_reasons_in_chinese_where_known(client, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get("/console/station/products")
    url = f"/console/station/products/{shop.blueberries.id}/skus/{shop.sku_500g.id}"
    answer = client.post(url, data={"csrf_token": csrf_of(page), "price": "45.50", "stock": "7.5"})
    assert answer.status_code == 422 and "请输入整数" in answer.text


@pytest.mark.parametrize("count", ["1e999", "12345678901234567890", "9" * 5000])
def test_a_count_too_large_or_too_long_is_refused_not_a_server_error(app, count):
    assert list(refused({"stock": count})) == ["stock"]


def test_a_nested_field_is_named_by_its_path_as_the_api_names_it(app):
    form = {
        "name": "冻干蓝莓",
        "producer_id": "3",
        "category": "fruit",
        "unit": "盒",
        "skus.0.code": "LM-1",
        "skus.0.spec": "125g",
        "skus.0.price": "39.80",
        "skus.0.stock": "5",
        "certificate.number": "",
    }
    loaded = forms.load(
        ProductIn(), form, yuan={"price": "price_fen"}, whole=("producer_id", "stock")
    )
    assert loaded["skus"][0] | {"price_fen": 3980, "stock": 5, "code": "LM-1"} == loaded["skus"][0]
    assert loaded["certificate"] is None  # an empty block is left out, as the API's default
    with pytest.raises(ValidationFailed) as caught:
        forms.load(ProductIn(), {**form, "skus.0.stock": "x", "skus.0.price": ""}, whole=("stock",))
    assert set(caught.value.errors) == {"skus.0.stock"}
    with pytest.raises(ValidationFailed) as caught:
        forms.load(ProductIn(), {**form, "skus.0.price": ""}, whole=("producer_id", "stock"))
    assert set(caught.value.errors) == {"skus.0.price_fen"}


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("0", ("yuan.at_least", {"min": "0.01", "min_fen": 1})),
        ("1000000.01", ("yuan.at_most", {"max": "1000000.00", "max_fen": 10**8})),
    ],
)
def test_a_range_on_an_amount_in_yuan_is_said_in_yuan(app, price, reason):
    assert refused({"price": price}) == {"price_fen": [reason]}


def test_a_range_on_a_count_stays_a_count(app):
    assert refused({"stock": "-1"}) == {
        "stock": [("number.out_of_range", {"min": 0, "max": 10**6})]
    }
