"""Every reason the service can give reads in Chinese: the catalog translates each one, with
only the parameters the reason has, and the API and the console render it from its code."""

import re
import string

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from marketplace.i18n import TRANSLATIONS
from marketplace.reasons import REASONS
from tests.orders.conftest import shop  # noqa: F401  (a shared fixture)

CATALOG = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def chinese():
    with open(CATALOG, "rb") as source:
        return {(m.context, m.id): m for m in read_po(source) if m.id}


def test_every_reason_has_a_chinese_translation(app, chinese):
    missing = [
        code
        for code, known in sorted(REASONS.items())
        if not (entry := chinese.get((code, known.template))) or not entry.string or entry.fuzzy
    ]
    assert missing == [], "run `flask i18n update` and translate these in " + str(CATALOG)


def test_translations_use_only_their_reasons_parameters(app, chinese):
    wrong = []
    for code, known in REASONS.items():
        entry = chinese.get((code, known.template))
        if entry is None or not entry.string:
            continue
        for _, name, spec, conversion in string.Formatter().parse(entry.string):
            if name is None:
                continue
            if name not in _offered(known.parameters):
                wrong.append(f"{code}: {{{name}}} is none of {known.parameters}")
            if conversion or (spec and spec != "yuan") or (spec and not name.endswith("_fen")):
                wrong.append(f"{code}: {{{name}!{conversion}:{spec}}}")
    assert wrong == []


def _offered(parameters: list[str]) -> set[str]:
    """What a reason's message carries: its template's parameters, and for a figure the English
    shows in yuan (``{min}`` of "at least {min} yuan", ``{owed_yuan}``) the fen behind it, which
    a translation may show as ``{min_fen:yuan}`` (``reasons.Reason.__call__`` keeps both)."""
    fen = {name.removesuffix("_yuan") + "_fen" for name in parameters}
    return set(parameters) | fen


def test_the_compiled_catalog_is_current():
    with open(CATALOG, "rb") as source:
        written = {(m.context, m.id): m.string for m in read_po(source) if m.id}
    with open(CATALOG.with_suffix(".mo"), "rb") as source:
        compiled = {(m.context, m.id): m.string for m in read_mo(source) if m.id}
    assert compiled == written, "run `make install` (it compiles the catalogs)"


def test_the_api_answers_in_chinese_when_asked(client):
    body = {"username": 1}
    english = client.post("/api/v1/auth/tokens", json=body).json
    chinese = client.post(
        "/api/v1/auth/tokens", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"}
    )
    assert chinese.headers["Content-Language"] == "zh"
    assert "Accept-Language" in chinese.headers["Vary"]
    assert english["errors"]["password"] == ["Missing data for required field."]
    assert chinese.json["errors"]["password"] == ["必填"]
    # The codes are the same whatever the language.
    assert chinese.json["reasons"] == english["reasons"]
    assert chinese.json["code"] == english["code"] == "request.invalid_fields"


#: A Chinese sentence: at least two CJK characters.
_CHINESE = re.compile(r"[\u4e00-\u9fff].*[\u4e00-\u9fff]")


def _refusals(client, shop):
    """One of each kind of refusal the API gives: (what it is, method, path, body, headers)."""
    return [
        ("schema 422", "post", "/api/v1/auth/tokens", {"username": 1}, {}),
        (
            "domain 409",
            "post",
            f"/api/v1/products/{shop.blueberries.id}/publish",
            None,
            shop.station_headers,
        ),
        ("404", "get", "/api/v1/users/999999", None, shop.admin_headers),
        ("403", "get", "/api/v1/users", None, shop.buyer_headers),
        ("401", "get", "/api/v1/me", None, {}),
        (
            "wrong login 401",
            "post",
            "/api/v1/auth/tokens",
            {"username": "nobody", "password": "wrong password"},
            {},
        ),
        ("query 422", "get", "/api/v1/products?page_size=100000", None, {}),
        ("405", "delete", "/api/v1/products", None, {}),
        (
            "unrouted 404",
            "get",
            "/api/v1/no/such/thing",
            None,
            {},
        ),
    ]


@pytest.mark.parametrize("which", range(9))
def test_each_kind_of_refusal_reads_in_chinese_when_asked_and_in_english_otherwise(
    client, shop, which
):
    kind, method, path, body, headers = _refusals(client, shop)[which]
    send = getattr(client, method)
    english = send(path, json=body, headers=headers)
    chinese = send(path, json=body, headers={**headers, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status_code == chinese.status_code >= 400, (kind, english.json)
    assert english.mimetype == chinese.mimetype == "application/problem+json"
    assert chinese.json["code"] == english.json["code"] != "invalid", kind
    assert chinese.json["code"] in REASONS, kind
    assert _CHINESE.search(chinese.json["detail"]), (kind, chinese.json["detail"])
    assert not _CHINESE.search(english.json["detail"]), (kind, english.json["detail"])
    assert _CHINESE.search(chinese.json["title"]), (kind, chinese.json["title"])
    assert not _CHINESE.search(english.json["title"]), (kind, english.json["title"])
    for field, messages in chinese.json.get("errors", {}).items():
        assert all(_CHINESE.search(message) for message in messages), (kind, field, messages)
        assert chinese.json["reasons"][field] == english.json["reasons"][field]
