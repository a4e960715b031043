"""Co-operative memberships: shares over time, never rewritten."""

from datetime import date

import pytest
import sqlalchemy as sa

from marketplace.producers.memberships import active_members
from marketplace.producers.models import CooperativeMembership, ProducerKind


@pytest.fixture
def coop(cast, make_producer):
    return make_producer(cast.station_a, name="蓝莓合作社")


@pytest.fixture
def members(cast, make_household):
    """Three households of the county (two villages, two townships)."""
    return [
        make_household(cast.regions.village_a1, head_name="孙一"),
        make_household(cast.regions.village_a2, head_name="孙二"),
        make_household(cast.regions.village_b1, head_name="孙三"),
    ]


def _url(coop, membership_id=None):
    url = f"/api/v1/producers/{coop.id}/members"
    return url if membership_id is None else f"{url}/{membership_id}"


def _memberships(session, coop):
    return session.execute(
        sa.select(
            CooperativeMembership.household_id,
            CooperativeMembership.shares,
            CooperativeMembership.joined_on,
            CooperativeMembership.left_on,
        )
        .where(CooperativeMembership.cooperative_id == coop.id)
        .order_by(CooperativeMembership.id)
    ).all()


def _join(client, cast, coop, household, shares, joined_on="2023-01-01"):
    response = client.post(
        _url(coop),
        json={"household_id": household.id, "shares": shares, "joined_on": joined_on},
        headers=cast.h.station_a,
    )
    assert response.status_code == 201, response.json
    return response.json


def test_a_household_joins_with_shares(client, session, cast, coop, members):
    body = _join(client, cast, coop, members[0], 10)
    assert body["household_name"] == "孙一"
    assert (body["shares"], body["joined_on"], body["left_on"]) == (10, "2023-01-01", None)
    assert _memberships(session, coop) == [(members[0].id, 10, date(2023, 1, 1), None)]


def test_a_share_change_ends_the_old_membership_and_history_by_date_holds(
    client, session, cast, coop, members
):
    first = _join(client, cast, coop, members[0], 10)
    _join(client, cast, coop, members[1], 30)
    changed = client.patch(
        _url(coop, first["id"]),
        json={"shares": 25, "effective_from": "2024-03-01"},
        headers=cast.h.station_a,
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["id"] != first["id"]
    assert (changed.json["shares"], changed.json["joined_on"]) == (25, "2024-03-01")
    assert _memberships(session, coop)[0] == (
        members[0].id,
        10,
        date(2023, 1, 1),
        date(2024, 2, 29),
    )

    a, b = members[0].id, members[1].id
    assert active_members(session, coop.id, date(2022, 12, 31)) == []
    assert active_members(session, coop.id, date(2024, 2, 29)) == [(a, 10), (b, 30)]
    assert active_members(session, coop.id, date(2024, 3, 1)) == [(a, 25), (b, 30)]

    left = client.patch(
        _url(coop, changed.json["id"]), json={"left_on": "2024-12-31"}, headers=cast.h.station_a
    )
    assert left.status_code == 200, left.json
    assert left.json["left_on"] == "2024-12-31"
    assert active_members(session, coop.id, date(2024, 12, 31)) == [(a, 25), (b, 30)]
    assert active_members(session, coop.id, date(2025, 1, 1)) == [(b, 30)]


def test_members_are_sorted_by_household_id(client, session, cast, coop, members):
    for household, shares in zip(reversed(members), (5, 6, 7), strict=True):
        _join(client, cast, coop, household, shares)
    assert active_members(session, coop.id, date(2023, 6, 1)) == [
        (members[0].id, 7),
        (members[1].id, 6),
        (members[2].id, 5),
    ]


def test_list_shows_all_periods_or_those_of_one_day(client, cast, coop, members):
    first = _join(client, cast, coop, members[0], 10)
    _join(client, cast, coop, members[1], 30, joined_on="2024-06-01")
    client.patch(
        _url(coop, first["id"]),
        json={"shares": 12, "effective_from": "2024-01-01"},
        headers=cast.h.station_a,
    )

    def listed(query=""):
        response = client.get(_url(coop) + query, headers=cast.h.official_county)
        assert response.status_code == 200, response.json
        return [(m["household_name"], m["shares"], m["left_on"]) for m in response.json]

    assert listed() == [("孙一", 10, "2023-12-31"), ("孙一", 12, None), ("孙二", 30, None)]
    assert listed("?on=2023-07-01") == [("孙一", 10, "2023-12-31")]
    assert listed("?on=2024-07-01") == [("孙一", 12, None), ("孙二", 30, None)]
    assert listed(f"?household_id={members[1].id}") == [("孙二", 30, None)]
    bad = client.get(_url(coop) + "?on=yesterday", headers=cast.h.admin)
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"on"}


def test_list_statement_count_does_not_grow_with_rows(
    client, cast, coop, members, make_household, count_queries
):
    _join(client, cast, coop, members[0], 1)
    with count_queries() as few:
        assert len(client.get(_url(coop), headers=cast.h.admin).json) == 1
    _join(client, cast, coop, members[1], 2)
    _join(client, cast, coop, members[2], 3)
    _join(client, cast, coop, make_household(cast.regions.village_b2), 4)
    with count_queries() as many:
        assert len(client.get(_url(coop), headers=cast.h.admin).json) == 4
    assert many.count == few.count
    # the actor, the co-operative, the count, the page, the households
    assert many.count == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shares": 0}, "shares"),
        ({"shares": -3}, "shares"),
        ({"shares": 1.5}, "shares"),
        ({"shares": 2**31}, "shares"),
        ({"joined_on": "2023-02-30"}, "joined_on"),
        ({"household_id": None}, "household_id"),
        ({"household_id": 999999}, "household_id"),
        ({"household_id": "far away"}, "household_id"),
        ({"household_id": "member"}, "household_id"),
    ],
)
def test_bad_member_input_is_422_naming_the_field_and_writes_nothing(
    client, session, cast, coop, members, make_household, body, field
):
    _join(client, cast, coop, members[0], 10, joined_on="2023-01-01")
    before = _memberships(session, coop)
    far = make_household(cast.regions.other_village, head_name="远方的人")
    replacements = {"far away": far.id, "member": members[0].id}
    full = {"household_id": members[1].id, "shares": 5, "joined_on": "2024-01-01"}
    full.update({k: replacements.get(v, v) for k, v in body.items()})
    full = {k: v for k, v in full.items() if v is not None}
    response = client.post(_url(coop), json=full, headers=cast.h.station_a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert "远方的人" not in response.get_data(as_text=True)
    assert _memberships(session, coop) == before


def test_a_household_rejoins_only_after_it_left(client, session, cast, coop, members):
    first = _join(client, cast, coop, members[0], 10, joined_on="2023-01-01")
    client.patch(_url(coop, first["id"]), json={"left_on": "2023-06-30"}, headers=cast.h.station_a)
    overlapping = client.post(
        _url(coop),
        json={"household_id": members[0].id, "shares": 3, "joined_on": "2023-06-30"},
        headers=cast.h.station_a,
    )
    assert overlapping.status_code == 422
    assert set(overlapping.json["errors"]) == {"household_id"}
    _join(client, cast, coop, members[0], 3, joined_on="2023-07-01")
    assert active_members(session, coop.id, date(2023, 7, 1)) == [(members[0].id, 3)]


def test_only_cooperatives_have_members(client, session, cast, make_producer, members):
    enterprise = make_producer(cast.station_a, kind=ProducerKind.enterprise)
    response = client.post(
        _url(enterprise),
        json={"household_id": members[0].id, "shares": 1, "joined_on": "2023-01-01"},
        headers=cast.h.station_a,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"producer_id"}
    assert _memberships(session, enterprise) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "shares"),
        ({"shares": 12}, "effective_from"),
        ({"effective_from": "2024-01-01"}, "shares"),
        ({"shares": 12, "effective_from": "2024-01-01", "left_on": "2024-06-01"}, "left_on"),
        ({"shares": 0, "effective_from": "2024-01-01"}, "shares"),
        ({"shares": 10, "effective_from": "2024-01-01"}, "shares"),
        ({"shares": 12, "effective_from": "2023-01-01"}, "effective_from"),
        ({"shares": 12, "effective_from": "2022-01-01"}, "effective_from"),
        ({"left_on": "2022-12-31"}, "left_on"),
        ({"left_on": "not a date"}, "left_on"),
    ],
)
def test_bad_membership_change_is_422_naming_the_field_and_changes_nothing(
    client, session, cast, coop, members, body, field
):
    joined = _join(client, cast, coop, members[0], 10, joined_on="2023-01-01")
    before = _memberships(session, coop)
    response = client.patch(_url(coop, joined["id"]), json=body, headers=cast.h.station_a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert _memberships(session, coop) == before


def test_an_ended_membership_is_history(client, session, cast, coop, members):
    joined = _join(client, cast, coop, members[0], 10, joined_on="2023-01-01")
    url = _url(coop, joined["id"])
    ended = client.patch(url, json={"left_on": "2023-12-31"}, headers=cast.h.station_a)
    assert ended.status_code == 200
    before = _memberships(session, coop)
    for body, field in (
        ({"left_on": "2024-12-31"}, "left_on"),
        ({"shares": 3, "effective_from": "2023-06-01"}, "shares"),
    ):
        response = client.patch(url, json=body, headers=cast.h.station_a)
        assert response.status_code == 422
        assert set(response.json["errors"]) == {field}
    assert _memberships(session, coop) == before


def test_memberships_are_scoped_through_their_cooperative(
    client, session, cast, coop, members, make_producer, hidden
):
    joined = _join(client, cast, coop, members[0], 10)
    other_coop = make_producer(cast.station_b)
    hidden(client.get(_url(coop), headers=cast.h.station_b), "孙一")
    hidden(client.get(_url(coop), headers=cast.h.official_far), "孙一")
    assert client.get(_url(coop), headers=cast.h.official_a).status_code == 200
    before = _memberships(session, coop)
    hidden(
        client.patch(
            _url(coop, joined["id"]), json={"left_on": "2024-01-01"}, headers=cast.h.station_b
        )
    )
    hidden(
        client.post(
            _url(coop),
            json={"household_id": members[1].id, "shares": 1, "joined_on": "2024-01-01"},
            headers=cast.h.station_b,
        )
    )
    # a membership reached through the wrong co-operative does not exist
    hidden(
        client.patch(
            _url(other_coop, joined["id"]), json={"left_on": "2024-01-01"}, headers=cast.h.admin
        )
    )
    assert _memberships(session, coop) == before


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("official_county", 403), ("buyer", 403)])
def test_officials_and_buyers_cannot_change_members(
    client, session, cast, coop, members, who, status
):
    joined = _join(client, cast, coop, members[0], 10)
    before = _memberships(session, coop)
    headers = getattr(cast.h, who) if who else {}
    new = {"household_id": members[1].id, "shares": 1, "joined_on": "2024-01-01"}
    assert client.post(_url(coop), json=new, headers=headers).status_code == status
    change = {"left_on": "2024-01-01"}
    assert (
        client.patch(_url(coop, joined["id"]), json=change, headers=headers).status_code == status
    )
    assert _memberships(session, coop) == before
    if who == "buyer":
        assert client.get(_url(coop), headers=headers).status_code == 403
    if who is None:
        assert client.get(_url(coop)).status_code == 401
