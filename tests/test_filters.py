"""Filters behave the same on every list: a filter naming an id that does not exist (a region in
``within``, a village, a station) matches nothing. The answer is an empty page, as for any
other filter no row satisfies, never a 404 or a 422 that a schema-valid request would not
expect."""

import pytest

from marketplace.accounts.models import Role

UNKNOWN = 999_999

LISTS = [
    "/api/v1/regions?within={id}",
    "/api/v1/households?within={id}",
    "/api/v1/households?village_id={id}",
    "/api/v1/producers?within={id}",
    "/api/v1/producers?station_id={id}",
    "/api/v1/stations?within={id}",
    "/api/v1/units?within={id}",
    "/api/v1/station/products?station_id={id}",
    "/api/v1/station/products?producer_id={id}",
    "/api/v1/payout-runs?region_id={id}",
    "/api/v1/products?region={id}",
    "/api/v1/products?village_id={id}",
]


@pytest.mark.parametrize("url", LISTS)
def test_an_unknown_id_in_a_filter_matches_nothing(client, regions, make_user, auth, url):
    response = client.get(url.format(id=UNKNOWN), headers=auth(make_user(Role.admin)))
    assert response.status_code == 200, response.json
    assert response.json == []
