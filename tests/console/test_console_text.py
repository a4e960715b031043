"""Every console page reads in Chinese: no enum value (``douyin``, ``pending_payment``), no
English sentence of the service, reaches a station operator or an official.

The pages are found in the app's URL map, so a page added later is read too: each GET page of
the console, for a station, an official and an admin, over the shared fixtures' data. What a
person reads is the text between the tags and the attributes a screen reader or the browser
shows (a placeholder, an ``aria-label``, a ``title``, an image's ``alt``). Latin text that is
data (a username, an order number, a SKU's code) and a few words people use (CSV, XLSX, ...)
are allowed.
"""

import html
import io
import re
from datetime import timedelta

import pytest

from marketplace.db import utcnow
from tests.console.conftest import csrf_of
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket
from tests.payouts.conftest import accrue, give_card, people  # noqa: F401  (shared fixtures)
from tests.payouts.test_runs import village  # noqa: F401  (a shared fixture)

#: Latin words a page may show that are no English of the service's.
ALLOWED = {"CSV", "XLSX", "API", "SKU", "UTF", "Excel", "Stripe", "Tab"}
ALLOWED |= {"JPEG", "PNG", "WebP", "TXT"}  # the image formats an upload takes, a bank's file
#: Found by these tests in pages another change owns, and reported to it: each entry goes when
#: its page is fixed.
REPORTED: dict[str, list[str]] = {}
#: A file's link, the page a job's panel polls, the sign-in page (read signed out, below).
NOT_PAGES = re.compile(r"\.(csv|xlsx|txt)|/panel$|<any\(|/login$|/static/")
#: A Latin word: a token with digits in it is a code, a number or a digest, not English.
_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z_]{2,}(?![A-Za-z0-9_])")
#: A batch's serial, a job's key: a UUID's groups of hex may be letters only ("fedc").
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_SHOWN_ATTRIBUTES = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"')
_HIDDEN_BLOCKS = re.compile(r"<(script|style)\b.*?</\1>", re.S)


def visible_text(page: str) -> str:
    shown = " ".join(_SHOWN_ATTRIBUTES.findall(page))
    body = _HIDDEN_BLOCKS.sub(" ", page.split("<body", 1)[-1])
    return html.unescape(re.sub(r"<[^>]+>", " ", body) + " " + shown)


def english_words(page: str, data_words: set[str]) -> list[str]:
    return sorted(
        {
            word
            for word in _WORD.findall(_UUID.sub(" ", visible_text(page)))
            if word not in ALLOWED and word not in data_words
        }
    )


@pytest.fixture
def world(client, shop, money, pay, regions):
    """What the pages show: a paid order of the station, a livestream session, households."""
    order = pay((shop.sku_500g, 1))
    start = utcnow() + timedelta(days=1)
    session = client.post(
        "/api/v1/livestreams",
        json={
            "title": "蓝莓节直播",
            "host_name": "李站长",
            "host_kind": "station_operator",
            "platform": "douyin",
            "room_id": "room-1",
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(hours=2)).isoformat(),
        },
        headers=shop.station_headers,
    )
    assert session.status_code == 201, session.json
    unpaid = client.post(
        "/api/v1/orders",
        json=basket((shop.sku_1kg, 1)),
        headers={**shop.buyer_headers, "Idempotency-Key": "text-audit-unpaid"},
    )
    return {
        "region_id": regions.county.id,
        "household_id": money.members[0].id,
        "order_id": order["id"],
        "product_id": shop.blueberries.id,
        "session_id": session.json["id"],
        # No job nor payout run in these fixtures: their pages are read as the 404 they answer.
        "job_id": 1,
        "run_id": 1,
        "sku_id": shop.sku_500g.id,
        "image_id": 1,
        "item_id": 1,
        "_data": {order["number"], unpaid.json.get("number", ""), session.json["code"], "room"},
    }


def console_pages(app, arguments: dict) -> tuple[list[str], list[str]]:
    """Every GET page of the console with its arguments filled, and the rules whose arguments
    this test cannot fill (a new page: add its argument to ``world``)."""
    pages, unfilled = [], []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or "GET" not in rule.methods:
            continue
        if NOT_PAGES.search(rule.rule):
            continue
        if not rule.arguments <= set(arguments):
            unfilled.append(rule.rule)
            continue
        pages.append(_fill(rule, arguments))
    return sorted(pages), unfilled


def _fill(rule, arguments: dict) -> str:
    """The rule's path with its arguments given; a choice (``<any(publish, delist):action>``)
    takes its first."""
    path = re.sub(r"<any\(([^,)]+)[^)]*\):[a-z_]+>", lambda m: m.group(1).strip("'\" "), rule.rule)
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(arguments.get(name, "")), path)
    return path


def _data_words(shop, money, world) -> set[str]:
    users = [shop.station_user, shop.admin, money.official]
    texts = [user.username for user in users] + [str(text) for text in world["_data"]]
    for sku in (shop.sku_500g, shop.sku_1kg):
        texts.append(sku.code or "")
    return {word for text in texts for word in _WORD.findall(text)}


def english_on_pages(client, pages, data_words, **request) -> dict:
    """The English words on each page (after a redirect), by page and status; no page a 500."""
    english = {}
    for path in pages:
        response = client.get(path, **request)
        if response.status_code in (301, 302, 303):
            response = client.get(response.location)
        assert response.status_code < 500, path
        found = english_words(response.get_data(as_text=True), data_words)
        if found:
            english[f"{path} ({response.status_code})"] = found
    return english


@pytest.mark.parametrize("role", ["station", "official", "admin"])
def test_every_console_page_reads_in_chinese(app, client, sign_in, shop, money, world, role):
    user = {"station": shop.station_user, "official": money.official, "admin": shop.admin}[role]
    pages, unfilled = console_pages(app, world)
    assert unfilled == [], "fill these pages' arguments in the fixture `world`"
    sign_in(user)
    data_words = _data_words(shop, money, world)
    assert english_on_pages(client, pages, data_words) == {}


def test_the_sign_in_page_reads_in_chinese(client):
    assert english_words(client.get("/console/login").get_data(as_text=True), set()) == []
    refused = client.post("/console/login", data={"csrf_token": "x"})
    assert english_words(refused.get_data(as_text=True), set()) == []


def test_a_payout_runs_pages_read_in_chinese(client, sign_in, people, regions, village):
    """The payout pages over a run approved and with a line, which the shared fixtures above
    lack: its statuses and payees' kinds in words."""
    from tests.payouts.test_settlement import approved_run

    run = approved_run(client, people, regions)
    run_id = run["id"] if "id" in run else run["run"]["id"]
    sign_in(people.approver)
    data_words = set(_WORD.findall(people.approver.username))
    english = {}
    for path in ("/console/payouts", f"/console/payouts/{run_id}", "/console/approvals"):
        response = client.get(path)
        assert response.status_code == 200, path
        found = english_words(response.get_data(as_text=True), data_words)
        if found:
            english[path] = found
    assert english == {}


def test_an_import_jobs_pages_read_in_chinese(client, sign_in, shop):
    """An export's upload as a job with a failed row, which the fixtures above lack: its state,
    its platform and each row's reason in words."""
    from tests.console.conftest import csrf_of
    from tests.console.test_station_imports import douyin_export
    from tests.platform_sales.jobs_inline import run_inline

    sign_in(shop.station_user)
    token = csrf_of(client.get("/console/station/imports"))
    export = douyin_export(
        [("6920261120000000009", "野生蓝莓 1kg 礼盒", "3700000000000000509", 1, "128.00")]
    )
    started = client.post(
        "/console/station/imports",
        data={"csrf_token": token, "platform": "douyin", "file": (io.BytesIO(export), "抖音.csv")},
        content_type="multipart/form-data",
    )
    assert started.status_code == 303, started.text
    job_page = started.headers["Location"]
    run_inline(int(job_page.rsplit("/", 1)[1]))
    data_words = set(_WORD.findall(shop.station_user.username)) | {"csv"}  # the file's name
    english = {}
    for path in (job_page, f"{job_page}/panel", "/console/station/imports"):
        response = client.get(path)
        assert response.status_code == 200, path
        found = english_words(response.get_data(as_text=True), data_words)
        if found:
            english[path] = found
    assert english == {}


@pytest.mark.parametrize("role", ["station", "official"])
def test_every_form_posted_empty_is_refused_in_chinese(
    app, client, sign_in, shop, money, world, role
):
    """Each form of the console, posted with nothing filled in: whatever it answers (its reasons
    beside the fields, a page saying why) reads in Chinese."""
    user = {"station": shop.station_user, "official": money.official}[role]
    sign_in(user)
    token = csrf_of(client.get("/console/", follow_redirects=True))
    data_words = _data_words(shop, money, world)
    english = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or "POST" not in rule.methods:
            continue
        if rule.endpoint in ("console.sign_in", "console.sign_out"):
            continue
        choices = set(re.findall(r"<any\([^)]*\):([a-z_]+)>", rule.rule))
        if not rule.arguments - choices <= set(world):
            continue
        path = _fill(rule, world)
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code < 500, path
        if response.status_code in (301, 302, 303):
            response = client.get(response.location)
        found = english_words(response.get_data(as_text=True), data_words)
        if found and found != REPORTED.get(rule.rule):
            english[f"POST {path} ({response.status_code})"] = found
    assert english == {}


#: What a link or a hand-typed address may carry wrong: each page's filters refuse it in Chinese.
JUNK_QUERY = {
    "status": "bogus",
    "state": "bogus",
    "platform": "bogus",
    "period": "bogus",
    "month": "bogus",
    "placed_from": "bogus",
    "producer_id": "bogus",
    "page": "bogus",
}


@pytest.mark.parametrize("role", ["station", "official"])
def test_every_page_refuses_a_junk_query_in_chinese(app, client, sign_in, shop, money, world, role):
    user = {"station": shop.station_user, "official": money.official}[role]
    pages, _ = console_pages(app, world)
    sign_in(user)
    data_words = _data_words(shop, money, world) | {"bogus"}  # echoed back as it was typed
    assert english_on_pages(client, pages, data_words, query_string=JUNK_QUERY) == {}
