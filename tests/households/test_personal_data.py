"""National ID and card numbers: full to admins, masked to everyone else, in every response
body and in every log line (all loggers, at DEBUG, so SQL parameters are included too)."""

import logging

import pytest

from marketplace import pii

URL = "/api/v1/households"
CARD = "6228480000000000011"
OTHER_CARD = "6210980000000000025"


@pytest.fixture
def registry(regions, make_household, id_number):
    """A household in village_a1 with a payout account held by a relative."""

    class Registry:
        household = make_household(regions.village_a1)
        holder_id = id_number()
        spare_id = id_number()

    Registry.household.payout = {
        "bank_name": "中国邮政储蓄银行",
        "card_number": CARD,
        "holder_name": "王桂兰",
        "holder_id_number": Registry.holder_id,
        "holder_relation": "配偶",
    }
    return Registry


def plain_numbers(registry) -> list[str]:
    return [registry.household.plain_id_number, registry.holder_id, registry.spare_id, CARD]


def exercise_every_endpoint(client, headers, registry, *, writes: bool) -> list:
    """Every households response an actor can get, reads and (for writers) writes."""
    household = registry.household
    base = f"{URL}/{household.id}"
    responses = []
    if writes:
        responses.append(
            client.put(f"{base}/payout-account", json=household.payout, headers=headers)
        )
        responses.append(
            client.patch(base, json={"version": 1, "members_count": 4}, headers=headers)
        )
        invalid = registry.spare_id[:-1] + ("0" if registry.spare_id[-1] != "0" else "1")
        responses.append(
            client.patch(base, json={"version": 2, "head_id_number": invalid}, headers=headers)
        )
        responses.append(
            client.post(
                f"{base}/status-changes",
                json={"status": "lifted", "effective_from": "2020-12-31"},
                headers=headers,
            )
        )
    responses += [
        client.get(URL, headers=headers),
        client.post(
            f"{URL}/lookup", json={"id_number": household.plain_id_number}, headers=headers
        ),
        client.get(base, headers=headers),
        client.get(f"{base}/payout-account", headers=headers),
        client.get(f"{base}/status-history", headers=headers),
    ]
    return responses


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_plain_numbers_logged(caplog, numbers):
    assert caplog.records, "nothing was captured: the check would prove nothing"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for number in numbers:
            assert number not in text, f"{record.name} logged a plain number"
    for number in numbers:
        assert number not in caplog.text


@pytest.mark.parametrize("role", ["station", "official"])
def test_non_admins_see_only_masked_numbers_in_bodies_and_logs(
    client, regions, registry, station_a1, official_a, admin, all_logs, role
):
    household = registry.household
    # The account exists before the official looks at it; an official cannot write it.
    client.put(f"{URL}/{household.id}/payout-account", json=household.payout, headers=admin)
    all_logs.clear()
    headers = station_a1 if role == "station" else official_a
    responses = exercise_every_endpoint(client, headers, registry, writes=role == "station")

    statuses = [response.status_code for response in responses]
    expected_reads = [200, 200, 200, 200, 200]
    expected = ([200, 200, 422, 201] if role == "station" else []) + expected_reads
    assert statuses == expected
    for response in responses:
        body = response.get_data(as_text=True)
        for number in plain_numbers(registry):
            assert number not in body
    listed, found, detail, account = (r.json for r in responses[-5:-1])
    masked_head = pii.mask(household.plain_id_number)
    assert listed[0]["head_id_number"] == masked_head
    assert found[0]["head_id_number"] == masked_head
    assert detail["head_id_number"] == masked_head
    assert account["card_number"] == pii.mask(CARD) == "622************0011"
    assert account["holder_id_number"] == pii.mask(registry.holder_id)
    assert_no_plain_numbers_logged(all_logs, plain_numbers(registry))


def test_station_creating_a_household_gets_it_back_masked(
    client, regions, station_a1, household_in, id_number, all_logs
):
    number = id_number()
    response = client.post(URL, json=household_in(regions.village_a1, number), headers=station_a1)
    assert response.status_code == 201
    assert response.json["head_id_number"] == pii.mask(number)
    assert number not in response.get_data(as_text=True)
    assert_no_plain_numbers_logged(all_logs, [number])


def test_admin_sees_full_numbers(client, registry, admin, all_logs):
    responses = exercise_every_endpoint(client, admin, registry, writes=True)
    assert [r.status_code for r in responses] == [200, 200, 422, 201, 200, 200, 200, 200, 200]
    listed, found, detail, account = (r.json for r in responses[-5:-1])
    head = registry.household.plain_id_number
    assert listed[0]["head_id_number"] == head
    assert found[0]["head_id_number"] == head
    assert detail["head_id_number"] == head
    assert account["card_number"] == CARD
    assert account["holder_id_number"] == registry.holder_id
    # Admins read them in responses; the logs still never carry them.
    assert_no_plain_numbers_logged(all_logs, plain_numbers(registry))


def test_numbers_are_masked_outside_a_request(app, session, registry):
    """A schema used anywhere but the API (an export, a log line) masks by default."""
    from marketplace.households.schemas import HouseholdOut

    dumped = HouseholdOut(only=("head_id_number",)).dump(registry.household)
    assert dumped == {"head_id_number": pii.mask(registry.household.plain_id_number)}
