"""Every reason the service can give reads in Chinese: the catalog translates each one, with
only the parameters the reason has, and the API and the console render it from its code."""

import string

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from marketplace.i18n import TRANSLATIONS
from marketplace.reasons import REASONS

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
            if name not in known.parameters:
                wrong.append(f"{code}: {{{name}}} is none of {known.parameters}")
            if conversion or (spec and spec != "yuan") or (spec and not name.endswith("_fen")):
                wrong.append(f"{code}: {{{name}!{conversion}:{spec}}}")
    assert wrong == []


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
