"""The household's one-card payout account (惠民惠农一卡通)."""

import pytest
import sqlalchemy as sa

from marketplace import pii
from marketplace.households.models import PayoutAccount

URL = "/api/v1/households/{}/payout-account"
CARD = "6228480000000000011"


def account_body(household, **over) -> dict:
    body = {
        "bank_name": "吉林农村信用社",
        "card_number": CARD,
        "holder_name": household.head_name,
        "holder_id_number": household.plain_id_number,
        "holder_relation": "本人",
    }
    body.update(over)
    return body


def account_of(session, household):
    session.expire_all()
    return session.execute(
        sa.select(PayoutAccount).where(PayoutAccount.household_id == household.id)
    ).scalar_one_or_none()


def test_put_creates_then_replaces(client, session, regions, make_household, station_a1, id_number):
    household = make_household(regions.village_a1)
    created = client.put(URL.format(household.id), json=account_body(household), headers=station_a1)
    assert created.status_code == 200, created.json
    assert created.json["bank_name"] == "吉林农村信用社"
    assert created.json["card_number"] == "622************0011"
    stored = account_of(session, household)
    assert CARD not in stored.card_encrypted
    assert pii.cipher().decrypt(stored.card_encrypted) == CARD

    spouse = id_number()
    replaced = client.put(
        URL.format(household.id),
        json=account_body(
            household,
            card_number="6210 9800 0000 0000 025",  # as printed on the card
            holder_name="王桂兰",
            holder_id_number=spouse,
            holder_relation="配偶",
        ),
        headers=station_a1,
    )
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["holder_name"] == "王桂兰"
    assert replaced.json["holder_relation"] == "配偶"
    assert replaced.json["holder_id_number"] == pii.mask(spouse)
    stored = account_of(session, household)
    assert pii.cipher().decrypt(stored.card_encrypted) == "6210980000000000025"
    assert session.execute(sa.select(sa.func.count()).select_from(PayoutAccount)).scalar_one() == 1


def test_get(client, regions, make_household, official_a, admin):
    household = make_household(regions.village_a1)
    missing = client.get(URL.format(household.id), headers=admin)
    assert missing.status_code == 404
    client.put(URL.format(household.id), json=account_body(household), headers=admin)
    response = client.get(URL.format(household.id), headers=official_a)
    assert response.status_code == 200
    assert response.json["household_id"] == household.id
    assert response.json["holder_name"] == household.head_name


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"card_number": "1234"}, "card_number"),
        ({"card_number": "6228-4800-0000-0000"}, "card_number"),
        ({"holder_id_number": "220524198803151235"}, "holder_id_number"),
        ({"bank_name": ""}, "bank_name"),
        ({"holder_relation": "x" * 21}, "holder_relation"),
        ({"holder_name": "别人"}, "holder_name"),  # 本人 must be the head
        ({"holder_id_number": None}, "holder_id_number"),
    ],
)
def test_bad_account_is_422_and_changes_nothing(
    client, session, regions, make_household, admin, over, field
):
    household = make_household(regions.village_a1)
    response = client.put(
        URL.format(household.id), json=account_body(household, **over), headers=admin
    )
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert account_of(session, household) is None


def test_holder_who_is_the_head_must_carry_the_head_id(
    client, session, regions, make_household, admin, id_number
):
    household = make_household(regions.village_a1)
    body = account_body(household, holder_id_number=id_number())
    response = client.put(URL.format(household.id), json=body, headers=admin)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["holder_id_number"]
    assert account_of(session, household) is None


def test_account_outside_scope_is_404(
    client, session, regions, make_household, station_a1, official_a, admin
):
    elsewhere = make_household(regions.village_b1)
    client.put(URL.format(elsewhere.id), json=account_body(elsewhere), headers=admin)
    for headers in (station_a1, official_a):
        response = client.get(URL.format(elsewhere.id), headers=headers)
        assert response.status_code == 404
        assert "吉林" not in response.get_data(as_text=True)
    other_card = account_body(elsewhere, card_number="6210980000000000025")
    response = client.put(URL.format(elsewhere.id), json=other_card, headers=station_a1)
    assert response.status_code == 404
    stored = account_of(session, elsewhere)
    assert pii.cipher().decrypt(stored.card_encrypted) == CARD


def test_account_writes_need_a_writer(client, session, regions, make_household, official_a):
    household = make_household(regions.village_a1)
    body = account_body(household)
    assert client.put(URL.format(household.id), json=body).status_code == 401
    assert client.get(URL.format(household.id)).status_code == 401
    assert client.put(URL.format(household.id), json=body, headers=official_a).status_code == 403
    assert account_of(session, household) is None
