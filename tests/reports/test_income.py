"""The attributed income report: its figures are the ledger's postings, to the fen, for generated
ledgers (hypothesis); a township is the sum of its villages, a village of its households; sources
and coverage; periods; who may read which region."""

import itertools
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.db import utcnow
from marketplace.households.models import HouseholdStatus, MonitoringType
from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import (
    AssistanceFund,
    DisbursementMode,
    EntryKind,
    FundDisbursement,
    FundSource,
)
from marketplace.orders.models import Order, OrderLine
from marketplace.periods import next_month, parse_period
from marketplace.producers.models import ProducerKind
from marketplace.reports.figures import Source
from marketplace.reports.income_households import household_rows
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)

URL = "/api/v1/reports/income"
_numbers = itertools.count(1)


def report(client, headers, region, period):
    response = client.get(
        URL, query_string={"region_id": region.id, "period": period}, headers=headers
    )
    assert response.status_code == 200, response.json
    return response.json


def ledger_net(session, village_ids, start, end) -> tuple[int, int]:
    """(income accrued, paid out) of the villages' households in [start, end], straight from
    the postings."""
    rows = session.execute(
        sa.text(
            "SELECT e.kind, SUM(p.amount_fen) FROM postings p"
            " JOIN journal_entries e ON e.id = p.entry_id"
            " JOIN ledger_accounts a ON a.id = p.account_id"
            " JOIN households h ON h.id = p.household_id"
            " WHERE a.kind = 'household_income' AND p.effective_on BETWEEN :start AND :end"
            " AND h.village_id IN :villages GROUP BY e.kind"
        ).bindparams(sa.bindparam("villages", expanding=True)),
        {"start": start, "end": end, "villages": list(village_ids)},
    ).all()
    by_kind = {kind: int(total) for kind, total in rows}
    earned = -sum(
        by_kind.get(k, 0)
        for k in ("attribution", "refund_reversal", "fund_disbursement", "minimum_dividend")
    )
    paid = sum(by_kind.get(k, 0) for k in ("payout_approved", "payout_returned"))
    return earned, paid


# --- a generated ledger -----------------------------------------------------------------------


@pytest.fixture
def county(session, shop, regions, make_household, make_producer, make_product):
    """Households in all four villages of the county (one in the other county), each status,
    and one order line per kind of producer, for entries to point at."""
    households = {}
    for village in (regions.village_a1, regions.village_a2, regions.village_b1, regions.village_b2):
        households[village.id] = [
            make_household(
                village,
                status=status,
                members_count=2 + index,
                monitoring_type=MonitoringType.marginal
                if status is HouseholdStatus.monitoring
                else None,
            )
            for index, status in enumerate(
                (HouseholdStatus.in_poverty, HouseholdStatus.lifted, HouseholdStatus.monitoring)
            )
        ]
    far = make_household(regions.other_village)
    seller = make_producer(
        shop.station,
        kind=ProducerKind.household,
        household_id=households[regions.village_a1.id][0].id,
        credit_code=None,
    )
    enterprise = make_producer(shop.station, kind=ProducerKind.enterprise)
    lines = {}
    for kind, producer in (
        (ProducerKind.cooperative, shop.producer),
        (ProducerKind.household, seller),
        (ProducerKind.enterprise, enterprise),
    ):
        product = make_product(shop.station, producer)
        order = Order(
            number=f"MKTEST{next(_numbers)}",
            buyer_id=shop.buyer.id,
            status="paid",
            payment_status="paid",
            total_fen=6800,
            recipient_name="x",
            recipient_phone="1",
            province="p",
            city="c",
            district="d",
            address_line="a",
            hold_expires_at=utcnow(),
        )
        session.add(order)
        session.flush()
        line = OrderLine(
            order_id=order.id,
            sku_id=product.skus_created[0].id,
            product_id=product.id,
            station_id=shop.station.id,
            producer_id=producer.id,
            product_name=product.name,
            sku_spec="x",
            unit_price_fen=6800,
            quantity=1,
            line_total_fen=6800,
            list_price_fen=6800,
        )
        session.add(line)
        session.flush()
        lines[kind] = line
    funds = {}
    for bound in (False, True):
        fund = AssistanceFund(
            name=f"基金{next(_numbers)}",
            source=FundSource.campaign,
            region_id=regions.county.id,
            bound=bound,
            created_by_id=shop.admin.id,
        )
        session.add(fund)
        session.flush()
        disbursement = FundDisbursement(
            fund_id=fund.id,
            mode=DisbursementMode.fixed,
            total_fen=1,
            memo="m",
            created_by_id=shop.admin.id,
        )
        session.add(disbursement)
        session.flush()
        funds[bound] = disbursement

    class County:
        pass

    County.households = households
    County.far = far
    County.lines = lines
    County.funds = funds
    return County


entry_kinds = st.sampled_from(
    [
        ("sale", ProducerKind.cooperative),
        ("sale", ProducerKind.household),
        ("sale", ProducerKind.enterprise),
        ("refund", ProducerKind.cooperative),
        ("refund", ProducerKind.enterprise),
        ("fund", False),
        ("fund", True),
        ("dividend", None),
        ("payout", None),
    ]
)
#: days from the first of the example's month: some before it, some after it
day_offsets = st.integers(-6, 36)
entry = st.tuples(
    entry_kinds, st.integers(0, 3), st.integers(0, 2), st.integers(1, 50_000), day_offsets
)
#: Each example reports on a month of its own: examples add to one ledger (each request
#: commits the test's rows), and a month nobody else wrote to holds only the example's entries.
_months = itertools.count()


def _write(session, county, regions, plan):
    """Each planned entry: the household's income leg against a made-up counterpart."""
    villages = [regions.village_a1, regions.village_a2, regions.village_b1, regions.village_b2]
    entries = []
    for (what, detail), village_index, household_index, amount, day in plan:
        household = county.households[villages[village_index].id][household_index]
        income = journal.household_income(household.id)
        leg = {"household_id": household.id}
        if what == "sale":
            kind, line = EntryKind.attribution, county.lines[detail]
            legs = [
                Leg(journal.gateway_clearing("offline"), amount, order_line_id=line.id),
                Leg(income, -amount, order_line_id=line.id, **leg),
            ]
            extra = {"order_id": line.order_id}
        elif what == "refund":
            kind, line = EntryKind.refund_reversal, county.lines[detail]
            legs = [
                Leg(journal.gateway_clearing("offline"), -amount, order_line_id=line.id),
                Leg(income, amount, order_line_id=line.id, **leg),
            ]
            extra = {"order_id": line.order_id}
        elif what == "fund":
            kind, disbursement = EntryKind.fund_disbursement, county.funds[detail]
            legs = [
                Leg(journal.assistance_fund(disbursement.fund_id), amount),
                Leg(income, -amount, **leg),
            ]
            extra = {"fund_disbursement_id": disbursement.id}
        elif what == "dividend":
            kind = EntryKind.minimum_dividend
            legs = [
                Leg(
                    journal.coop_retained(county.lines[ProducerKind.cooperative].producer_id),
                    amount,
                ),
                Leg(income, -amount, **leg),
            ]
            extra = {}
        else:
            kind = EntryKind.payout_approved
            legs = [Leg(income, amount, **leg), Leg(journal.PAYOUTS_IN_TRANSIT, -amount)]
            extra = {}
        entries.append(Entry(kind=kind, effective_on=day, memo="generated", legs=legs, **extra))
    # The other county's household gains too: it must never show.
    far = journal.household_income(county.far.id)
    entries.append(
        Entry(
            kind=EntryKind.fund_disbursement,
            effective_on=date(2025, 9, 10),
            memo="far",
            fund_disbursement_id=county.funds[False].id,
            legs=[
                Leg(journal.assistance_fund(county.funds[False].fund_id), 777),
                Leg(far, -777, household_id=county.far.id),
            ],
        )
    )
    journal.write_entries(session, entries)
    session.flush()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(entry, min_size=1, max_size=25))
def test_the_report_is_the_ledger_to_the_fen(client, session, shop, money, regions, county, plan):
    # Every third month: an example's days spill into the months beside its own, no further.
    k = 3 * next(_months)
    first = date(2040 + k // 12, k % 12 + 1, 1)
    month = (first, next_month(first) - timedelta(days=1))
    plan = [
        (what, v, h, amount, first + timedelta(days=offset)) for what, v, h, amount, offset in plan
    ]
    _write(session, county, regions, plan)
    whole = report(client, money.admin_headers, regions.county, first.strftime("%Y-%m"))
    earned, paid = ledger_net(
        session,
        [
            v.id
            for v in (
                regions.village_a1,
                regions.village_a2,
                regions.village_b1,
                regions.village_b2,
            )
        ],
        *month,
    )
    assert whole["totals"]["net_fen"] == earned
    assert whole["totals"]["paid_out_fen"] == paid
    # By source, from the plan itself.
    expected = dict.fromkeys(Source, 0)
    for (what, detail), *_rest, amount, day in plan:
        if not month[0] <= day <= month[1] or what == "payout":
            continue
        source = {
            ("sale", ProducerKind.cooperative): Source.coop_dividends,
            ("sale", ProducerKind.household): Source.own_sales,
            ("sale", ProducerKind.enterprise): Source.enterprise_linking,
            ("refund", ProducerKind.cooperative): Source.coop_dividends,
            ("refund", ProducerKind.enterprise): Source.enterprise_linking,
            ("fund", False): Source.assistance_funds,
            ("fund", True): Source.livestream_pledges,
            ("dividend", None): Source.coop_dividends,
        }[what, detail]
        expected[source] += -amount if what == "refund" else amount
    assert {s: whole["totals"]["by_source"][s.value]["net_fen"] for s in Source} == expected
    # A county is its townships, a township its villages, a village its households.
    assert sum(row["net_fen"] for row in whole["rows"]) == earned
    for township in (regions.township_a, regions.township_b):
        by_village = report(client, money.admin_headers, township, first.strftime("%Y-%m"))
        row = next(r for r in whole["rows"] if r["region_id"] == township.id)
        for name in (
            "gross_fen",
            "refunds_fen",
            "net_fen",
            "paid_out_fen",
            "households_reached",
        ):
            assert (
                sum(r[name] for r in by_village["rows"]) == row[name] == by_village["totals"][name]
            )
    village = report(client, money.admin_headers, regions.village_b1, first.strftime("%Y-%m"))
    assert sum(r["net_fen"] for r in village["rows"]) == village["totals"]["net_fen"]
    assert village["totals"]["net_fen"] == ledger_net(session, [regions.village_b1.id], *month)[0]
    # A quarter is its months.
    quarter = report(
        client, money.admin_headers, regions.county, f"{first.year}-Q{(first.month + 2) // 3}"
    )
    q_earned, _ = ledger_net(
        session,
        [
            v.id
            for v in (
                regions.village_a1,
                regions.village_a2,
                regions.village_b1,
                regions.village_b2,
            )
        ],
        date(first.year, (first.month - 1) // 3 * 3 + 1, 1),
        next_month(date(first.year, (first.month - 1) // 3 * 3 + 3, 1)) - timedelta(days=1),
    )
    assert quarter["totals"]["net_fen"] == q_earned
    # A village's rows come from a statement built once for every month (and one for every
    # longer period), its days and villages parameters: each is its household's row of the
    # households file, whose statements are built for the period asked.
    for label in (first.strftime("%Y-%m"), f"{first.year}-Q{(first.month + 2) // 3}"):
        served = report(client, money.admin_headers, regions.village_b1, label)
        filed = {
            row["household_id"]: row
            for row in household_rows(session, regions.village_b1, parse_period(label))
        }
        assert [row["household_id"] for row in served["rows"]] == sorted(filed)
        for row in served["rows"]:
            assert {name: row[name] for name in _HOUSEHOLD_FIGURES} == {
                name: filed[row["household_id"]][name] for name in _HOUSEHOLD_FIGURES
            }
            for source in Source:
                assert (
                    row["by_source"][source]["net_fen"]
                    == filed[row["household_id"]][f"{source}_fen"]
                )


_HOUSEHOLD_FIGURES = (
    "gross_fen",
    "refunds_fen",
    "net_fen",
    "paid_out_fen",
    "households_reached",
    "members_reached",
    "per_capita_fen",
    "status",
    "members",
)


def test_coverage_counts_households_by_status_and_who_was_reached(
    client, session, shop, money, regions, county
):
    _write(session, county, regions, [(("fund", False), 2, 0, 1000, date(2025, 9, 3))])
    township = report(client, money.admin_headers, regions.township_b, "2025-09")
    b1 = next(r for r in township["rows"] if r["region_id"] == regions.village_b1.id)
    assert b1["households_registered"] == 3 and b1["households_reached"] == 1
    assert b1["coverage"]["in_poverty"] == {"registered": 1, "reached": 1}
    assert b1["coverage"]["lifted"] == {"registered": 1, "reached": 0}
    assert b1["members_reached"] == 2 and b1["per_capita_fen"] == 500
    village = report(client, money.admin_headers, regions.village_b1, "2025-09")
    assert [(r["status"], r["households_reached"]) for r in village["rows"]] == [
        ("in_poverty", 1),
        ("lifted", 0),
        ("monitoring", 0),
    ]


def test_officials_report_on_their_subtree_only(client, shop, money, regions):
    assert (
        client.get(
            URL,
            query_string={"region_id": regions.village_b1.id, "period": "2025-09"},
            headers=money.official_b_headers,
        ).status_code
        == 200
    )
    assert (
        client.get(
            URL,
            query_string={"region_id": regions.township_a.id, "period": "2025-09"},
            headers=money.official_b_headers,
        ).status_code
        == 404
    )
    assert (
        client.get(
            URL,
            query_string={"region_id": regions.county.id, "period": "2025-09"},
            headers=money.official_far_headers,
        ).status_code
        == 404
    )
    assert (
        client.get(
            URL,
            query_string={"region_id": regions.county.id, "period": "2025-09"},
            headers=shop.station_headers,
        ).status_code
        == 403
    )


@pytest.mark.parametrize("period", ["2025-13", "2025-Q5", "1999", "9/2025", ""])
def test_a_period_it_cannot_read_is_a_422_naming_it(client, money, regions, period):
    response = client.get(
        URL,
        query_string={"region_id": regions.county.id, "period": period},
        headers=money.admin_headers,
    )
    assert response.status_code == 422
    assert "period" in response.json["errors"]


def test_the_households_not_reached_are_listed(client, session, shop, money, regions, county):
    _write(session, county, regions, [(("fund", False), 2, 0, 1000, date(2025, 9, 3))])
    query = {"region_id": regions.township_b.id, "period": "2025-09"}
    missed = client.get(
        "/api/v1/reports/coverage",
        query_string={**query, "reached": "false"},
        headers=money.official_headers,
    )
    assert missed.status_code == 200, missed.json
    reached_one = county.households[regions.village_b1.id][0].id
    assert reached_one not in {row["household_id"] for row in missed.json}
    assert len(missed.json) == 5 and all(row["reached"] is False for row in missed.json)
    poor = client.get(
        "/api/v1/reports/coverage",
        query_string={**query, "reached": "true", "status": "in_poverty"},
        headers=money.official_headers,
    ).json
    assert [row["household_id"] for row in poor] == [reached_one]
