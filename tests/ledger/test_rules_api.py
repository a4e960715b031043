"""Benefit-linking rule versions: drafted by admins, approved by someone else, immutable once
approved, previewed over a past period without writing anything; and station fees."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.ledger.models import BenefitRule, RuleBeneficiary, RuleStatus, StationFee
from marketplace.producers.models import ProducerKind
from tests.ledger.conftest import ledger_size


def rules_url(producer) -> str:
    return f"/api/v1/producers/{producer.id}/rules"


COOP_DRAFT = {"kind": "cooperative", "retained_bp": 5000, "effective_from": "2026-03-01"}


def rule_rows(session, producer_id):
    return session.execute(
        sa.select(BenefitRule.version, BenefitRule.status, BenefitRule.effective_to)
        .where(BenefitRule.producer_id == producer_id)
        .order_by(BenefitRule.version)
    ).all()


@pytest.fixture
def enterprise(shop, make_producer):
    return make_producer(shop.station, kind=ProducerKind.enterprise, name="青松食品有限公司")


@pytest.fixture
def draft(client, shop, money):
    response = client.post(rules_url(shop.producer), json=COOP_DRAFT, headers=money.admin_headers)
    assert response.status_code == 201, response.json
    return response.json


# --- drafting --------------------------------------------------------------------------------


def test_an_admin_drafts_the_next_version(draft, shop, money):
    assert draft["version"] == 2
    assert draft["status"] == "draft"
    assert draft["retained_bp"] == 5000
    assert draft["effective_to"] is None
    assert draft["approved_by_id"] is None
    assert draft["created_by_id"] == shop.admin.id


def test_an_enterprise_rule_names_weighted_households(client, money, enterprise):
    body = {
        "kind": "enterprise",
        "effective_from": "2026-03-01",
        "enterprise_basis": "per_unit",
        "premium_per_unit_fen": 4000,
        "weighting": "weights",
        "beneficiaries": [
            {"household_id": money.members[0].id, "weight": 3},
            {"household_id": money.members[1].id},
        ],
    }
    response = client.post(rules_url(enterprise), json=body, headers=money.admin_headers)
    assert response.status_code == 201, response.json
    assert response.json["premium_per_unit_fen"] == 4000
    assert response.json["beneficiaries"] == [
        {"household_id": money.members[0].id, "weight": 3},
        {"household_id": money.members[1].id, "weight": 1},
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**COOP_DRAFT, "kind": "enterprise"}, "kind"),
        ({**COOP_DRAFT, "retained_bp": 10001}, "retained_bp"),
        ({**COOP_DRAFT, "retained_bp": "50"}, "retained_bp"),
        ({"kind": "cooperative", "effective_from": "2026-03-01"}, "retained_bp"),
        ({**COOP_DRAFT, "premium_per_unit_fen": 100}, "premium_per_unit_fen"),
        ({**COOP_DRAFT, "effective_from": "March"}, "effective_from"),
        ({"kind": "cooperative", "retained_bp": 100}, "effective_from"),
        ({**COOP_DRAFT, "minimum_dividend_fen": 12.5}, "minimum_dividend_fen"),
    ],
)
def test_bad_drafts_are_422_naming_the_field(client, session, shop, money, body, field):
    response = client.post(rules_url(shop.producer), json=body, headers=money.admin_headers)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert len(rule_rows(session, shop.producer.id)) == 1


def test_enterprise_beneficiaries_must_live_in_the_producers_county(
    client, session, money, enterprise, make_household, regions
):
    stranger = make_household(regions.other_village)
    body = {
        "kind": "enterprise",
        "effective_from": "2026-03-01",
        "enterprise_basis": "percentage",
        "enterprise_bp": 1000,
        "beneficiaries": [{"household_id": money.members[0].id}, {"household_id": stranger.id}],
    }
    response = client.post(rules_url(enterprise), json=body, headers=money.admin_headers)
    assert response.status_code == 422
    assert "beneficiaries.1.household_id" in response.json["errors"]
    assert rule_rows(session, enterprise.id) == []
    assert session.execute(sa.select(sa.func.count()).select_from(RuleBeneficiary)).scalar() == 0


def test_an_enterprise_rule_needs_its_basis_and_households(client, money, enterprise):
    body = {"kind": "enterprise", "effective_from": "2026-03-01", "enterprise_basis": "percentage"}
    response = client.post(rules_url(enterprise), json=body, headers=money.admin_headers)
    assert response.status_code == 422
    assert {"enterprise_bp", "beneficiaries"} <= set(response.json["errors"])


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("official", 403), ("station", 403)])
def test_only_admins_draft(client, session, shop, money, who, status):
    headers = {
        None: {},
        "official": money.official_headers,
        "station": shop.station_headers,
    }[who]
    response = client.post(rules_url(shop.producer), json=COOP_DRAFT, headers=headers)
    assert response.status_code == status
    assert len(rule_rows(session, shop.producer.id)) == 1


# --- reading ---------------------------------------------------------------------------------


def test_versions_are_listed_newest_first_for_those_in_scope(client, shop, money, draft):
    for headers in (money.official_headers, shop.station_headers, money.admin_headers):
        response = client.get(rules_url(shop.producer), headers=headers)
        assert response.status_code == 200
        assert [rule["version"] for rule in response.json] == [2, 1]
        assert '"total": 2' in response.headers["X-Pagination"]
    assert (
        client.get(f"/api/v1/rules/{draft['id']}", headers=money.official_headers).json[
            "retained_bp"
        ]
        == 5000
    )


def test_rules_outside_scope_are_404_without_data(client, shop, money, draft):
    for headers in (
        money.official_far_headers,
        money.official_b_headers,
        shop.other_station_headers,
    ):
        listed = client.get(rules_url(shop.producer), headers=headers)
        one = client.get(f"/api/v1/rules/{draft['id']}", headers=headers)
        assert listed.status_code == one.status_code == 404
        assert "retained_bp" not in listed.text and "retained_bp" not in one.text
    assert client.get(rules_url(shop.producer)).status_code == 401


def test_listing_rules_takes_constant_statements(client, session, shop, money, count_queries):
    for day in range(2, 8):
        body = {**COOP_DRAFT, "effective_from": f"2026-04-0{day}"}
        assert (
            client.post(
                rules_url(shop.producer), json=body, headers=money.admin_headers
            ).status_code
            < 300
        )
    session.commit()
    with count_queries() as few:
        client.get(rules_url(shop.producer) + "?page_size=2", headers=money.admin_headers)
    with count_queries() as many:
        response = client.get(rules_url(shop.producer), headers=money.admin_headers)
    assert len(response.json) == 7
    assert many.count == few.count


# --- editing drafts --------------------------------------------------------------------------


def test_a_draft_can_be_edited_and_deleted(client, session, draft, money):
    url = f"/api/v1/rules/{draft['id']}"
    edited = client.patch(
        url, json={"revision": 0, "retained_bp": 3000}, headers=money.admin_headers
    )
    assert edited.status_code == 200, edited.json
    assert edited.json["retained_bp"] == 3000
    # An edit moves the draft's revision on and leaves its version number alone.
    assert (edited.json["revision"], edited.json["version"]) == (1, 2)
    assert client.delete(url, headers=money.admin_headers).status_code == 204
    assert session.get(BenefitRule, draft["id"]) is None


def test_an_edit_of_a_draft_saved_since_it_was_read_is_409(client, session, draft, money):
    url = f"/api/v1/rules/{draft['id']}"
    # Two admins read revision 0; the first saves.
    first = client.patch(
        url, json={"revision": 0, "retained_bp": 4000}, headers=money.admin_headers
    )
    assert first.status_code == 200, first.json
    second = client.patch(url, json={"revision": 0, "retained_bp": 1}, headers=money.admin2_headers)
    assert second.status_code == 409
    assert second.json["code"] == "rule.revision_stale"
    assert second.json["params"]["revision"] == 1
    session.expire_all()
    assert session.get(BenefitRule, draft["id"]).retained_bp == 4000


def test_a_bad_edit_is_422_and_changes_nothing(client, session, draft, money):
    url = f"/api/v1/rules/{draft['id']}"
    for body, field in (
        ({"retained_bp": 1}, "revision"),
        ({"revision": 0, "retained_bp": -1}, "retained_bp"),
        ({"revision": 0, "enterprise_bp": 100}, "enterprise_bp"),
    ):
        response = client.patch(url, json=body, headers=money.admin_headers)
        assert response.status_code == 422
        assert field in response.json["errors"]
    session.expire_all()
    assert session.get(BenefitRule, draft["id"]).retained_bp == 5000


def test_approved_versions_are_immutable(client, session, money):
    url = f"/api/v1/rules/{money.rule.id}"
    patched = client.patch(url, json={"revision": 0, "retained_bp": 0}, headers=money.admin_headers)
    deleted = client.delete(url, headers=money.admin_headers)
    assert patched.status_code == deleted.status_code == 409
    session.expire_all()
    assert session.get(BenefitRule, money.rule.id).retained_bp == 2000


# --- approval --------------------------------------------------------------------------------


def test_approval_closes_the_previous_version_the_day_before(client, session, shop, money, draft):
    response = client.post(f"/api/v1/rules/{draft['id']}/approve", headers=money.official_headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "approved"
    assert response.json["approved_by_id"] == money.official.id
    assert response.json["approved_at"]
    session.expire_all()
    rows = rule_rows(session, shop.producer.id)
    assert [(v, s, str(t) if t else None) for v, s, t in rows] == [
        (1, RuleStatus.approved, "2026-02-28"),
        (2, RuleStatus.approved, None),
    ]


def test_the_author_cannot_approve_their_own_rule(client, session, shop, money, draft):
    response = client.post(f"/api/v1/rules/{draft['id']}/approve", headers=money.admin_headers)
    assert response.status_code == 403
    session.expire_all()
    assert session.get(BenefitRule, draft["id"]).status is RuleStatus.draft
    assert session.get(BenefitRule, money.rule.id).effective_to is None


def test_approval_by_an_official_elsewhere_is_404_and_by_a_station_403(
    client, session, shop, money, draft
):
    url = f"/api/v1/rules/{draft['id']}/approve"
    far = client.post(url, headers=money.official_far_headers)
    assert far.status_code == 404 and "retained_bp" not in far.text
    assert client.post(url, headers=money.official_b_headers).status_code == 404
    assert client.post(url, headers=shop.station_headers).status_code == 403
    assert client.post(url).status_code == 401
    session.expire_all()
    assert session.get(BenefitRule, draft["id"]).status is RuleStatus.draft


def test_approving_twice_is_409(client, money, draft):
    url = f"/api/v1/rules/{draft['id']}/approve"
    assert client.post(url, headers=money.admin2_headers).status_code == 200
    assert client.post(url, headers=money.official_headers).status_code == 409


def test_a_version_may_not_start_before_the_approved_one(client, session, shop, money):
    body = {**COOP_DRAFT, "effective_from": "2019-12-31"}
    early = client.post(rules_url(shop.producer), json=body, headers=money.admin_headers).json
    response = client.post(f"/api/v1/rules/{early['id']}/approve", headers=money.admin2_headers)
    assert response.status_code == 422
    assert "effective_from" in response.json["errors"]
    session.expire_all()
    assert session.get(BenefitRule, early["id"]).status is RuleStatus.draft
    assert session.get(BenefitRule, money.rule.id).effective_to is None


# --- preview ---------------------------------------------------------------------------------


def test_preview_shows_would_get_beside_actually_got_and_writes_nothing(
    client, session, shop, money, pay, draft
):
    pay((shop.sku_500g, 2))  # 13,600 fen: 20% kept, 10,880 shared 1:2:2
    today = shanghai_today()
    before = ledger_size(session)
    response = client.post(
        f"/api/v1/rules/{draft['id']}/preview?from={today - timedelta(days=7)}&to={today}",
        headers=money.official_headers,
    )
    assert response.status_code == 200, response.json
    assert ledger_size(session) == before
    got = {row["household_id"]: row for row in response.json["households"]}
    first, second, third = (got[member.id] for member in money.members)
    assert (first["actually_got_fen"], second["actually_got_fen"]) == (2176, 4352)
    # half kept instead of a fifth: 6,800 shared 1:2:2
    assert (first["would_get_fen"], second["would_get_fen"], third["would_get_fen"]) == (
        1360,
        2720,
        2720,
    )
    assert first["difference_fen"] == 1360 - 2176
    totals = response.json["totals"]
    assert totals["lines"] == 1 and totals["gross_fen"] == 13600
    assert totals["would_attribute_fen"] + totals["would_retain_fen"] + totals["fees_fen"] == 13600
    assert totals["actually_attributed_fen"] == 10880 and totals["actually_retained_fen"] == 2720


def test_preview_counts_only_the_period_and_the_producer(client, shop, money, pay, draft):
    pay((shop.sku_ginseng, 1), headers=shop.other_station_headers)
    long_ago = client.post(
        f"/api/v1/rules/{draft['id']}/preview?from=2021-01-01&to=2021-12-31",
        headers=money.admin_headers,
    )
    assert long_ago.json["households"] == [] and long_ago.json["totals"]["lines"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?to=2026-01-01", "from"),
        ("?from=2026-02-01&to=2026-01-01", "to"),
        ("?from=x&to=y", "from"),
    ],
)
def test_preview_needs_a_sane_period(client, money, draft, query, field):
    response = client.post(
        f"/api/v1/rules/{draft['id']}/preview{query}", headers=money.admin_headers
    )
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_preview_outside_scope_is_404(client, shop, money, draft):
    url = f"/api/v1/rules/{draft['id']}/preview?from=2026-01-01&to=2026-01-31"
    assert client.post(url, headers=money.official_far_headers).status_code == 404
    assert client.post(url, headers=shop.other_station_headers).status_code == 404
    assert client.post(url).status_code == 401


# --- station fees ----------------------------------------------------------------------------


def fee_rows(session, station_id):
    return session.execute(
        sa.select(StationFee.fee_bp, StationFee.effective_from).where(
            StationFee.station_id == station_id
        )
    ).all()


def test_a_fee_set_from_today_applies_to_sales_paid_today(client, session, shop, money, pay):
    today = shanghai_today()
    response = client.put(
        f"/api/v1/stations/{shop.station.id}/fee",
        json={"fee_bp": 500, "effective_from": today.isoformat()},
        headers=money.admin_headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["fee_bp"] == 500
    order = pay((shop.sku_500g, 1))
    trail = client.get(f"/api/v1/orders/{order['id']}/money-trail", headers=money.admin_headers)
    assert trail.json["totals"]["fees_fen"] == 340
    history = client.get(f"/api/v1/stations/{shop.station.id}/fees", headers=shop.station_headers)
    assert [row["fee_bp"] for row in history.json] == [500]


def test_a_future_fee_can_be_replaced_but_not_one_in_force(client, session, shop, money):
    url = f"/api/v1/stations/{shop.station.id}/fee"
    tomorrow = (shanghai_today() + timedelta(days=1)).isoformat()
    today = shanghai_today().isoformat()
    for bp in (100, 200):
        assert (
            client.put(
                url, json={"fee_bp": bp, "effective_from": tomorrow}, headers=money.admin_headers
            ).status_code
            < 300
        )
    assert (
        client.put(
            url, json={"fee_bp": 300, "effective_from": today}, headers=money.admin_headers
        ).status_code
        < 300
    )
    again = client.put(
        url, json={"fee_bp": 400, "effective_from": today}, headers=money.admin_headers
    )
    assert again.status_code == 409
    assert sorted(bp for bp, _ in fee_rows(session, shop.station.id)) == [200, 300]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fee_bp": 10001, "effective_from": "2099-01-01"}, "fee_bp"),
        ({"fee_bp": 1.5, "effective_from": "2099-01-01"}, "fee_bp"),
        ({"fee_bp": 100}, "effective_from"),
        ({"fee_bp": 100, "effective_from": "2020-01-01"}, "effective_from"),
    ],
)
def test_bad_fees_are_422(client, session, shop, money, body, field):
    response = client.put(
        f"/api/v1/stations/{shop.station.id}/fee", json=body, headers=money.admin_headers
    )
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert fee_rows(session, shop.station.id) == []


def test_fees_are_set_by_admins_and_read_in_scope(client, session, shop, money):
    url = f"/api/v1/stations/{shop.station.id}/fee"
    body = {"fee_bp": 100, "effective_from": "2099-01-01"}
    assert client.put(url, json=body).status_code == 401
    assert client.put(url, json=body, headers=shop.station_headers).status_code == 403
    assert client.put(url, json=body, headers=money.official_headers).status_code == 403
    assert fee_rows(session, shop.station.id) == []
    history = f"/api/v1/stations/{shop.station.id}/fees"
    assert client.get(history, headers=shop.other_station_headers).status_code == 404
    assert client.get(history, headers=money.official_far_headers).status_code == 404
    assert client.get(history, headers=money.official_headers).status_code == 200
    missing = client.put("/api/v1/stations/999999/fee", json=body, headers=money.admin_headers)
    assert missing.status_code == 404


def test_an_editor_cannot_approve_the_version_they_edited(client, money, draft):
    url = f"/api/v1/rules/{draft['id']}"
    edited = client.patch(
        url, json={"revision": 0, "retained_bp": 2500}, headers=money.admin2_headers
    )
    assert edited.status_code == 200, edited.json
    refused = client.post(f"{url}/approve", headers=money.admin2_headers)
    assert refused.status_code == 403
    assert refused.json["code"] == "rule.approver_is_author"
    approved = client.post(f"{url}/approve", headers=money.official_headers)
    assert approved.status_code == 200, approved.json
