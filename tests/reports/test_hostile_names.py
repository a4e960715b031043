"""Names that try to turn the county's files against it. Every name a household can be registered
with reaches every file as it is registered, and none becomes a formula: in CSV a text cell
beginning with = + - @, a tab or a CR carries a leading quote; in XLSX every text cell is a
string cell. Names the payment files cannot carry (a comma, a line break, a control or bidi
character, anything GBK lacks) are refused at registration, naming the character."""

import csv
import io
import itertools
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from marketplace import bank_text
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.reports.exports import Column, Table, csv_chunks, xlsx_chunks
from marketplace.spreadsheets import csv_text
from tests.payouts.conftest import accrue, give_card, people  # noqa: F401  (shared fixtures)
from tests.payouts.test_settlement import RUNS, approved_run

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What attackers and ordinary typing put in a name: formula leads, separators, line breaks,
#: bidi controls, and the Chinese a name mostly is.
HOSTILE = "=+-@\t\r\n,，;\"'|\u202e\u200f\u2028\ud800\udfff%!(A1)SUMcmd 王桂芬李长顺"
names = st.text(alphabet=HOSTILE, min_size=1, max_size=12)
_numbers = itertools.count(1)


def _registered(client, headers, village, name, id_number):
    body = {
        "registry_number": f"22052410420{next(_numbers):09d}",
        "head_name": name,
        "head_id_number": id_number,
        "members_count": 3,
        "village_id": village.id,
        "status": "in_poverty",
    }
    # json.dumps escapes a lone surrogate as \\ud800, as a hostile client would send it.
    return client.post(
        "/api/v1/households",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _assert_no_formula(data: bytes) -> list:
    """Every cell of every sheet: no formula; returns the cells' values."""
    workbook = load_workbook(io.BytesIO(data))
    values = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                values.append(cell.value)
    return values


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=names)
def test_any_name_is_refused_at_registration_or_reaches_every_file_as_text(
    client, session, regions, people, id_number, name
):
    registered = _registered(client, people.admin_headers, regions.village_a1, name, id_number())
    if bank_text.problem_with(name) is not None or name != name.strip():
        assert registered.status_code == 422, registered.json
        assert "head_name" in registered.json["errors"]
        return
    if registered.status_code == 422:
        # The request's text checks refuse a control character before any schema does.
        assert "head_name" in registered.json["errors"], registered.json
        return
    assert registered.status_code == 201, registered.json
    month = shanghai_today().strftime("%Y-%m")
    query = {"region_id": regions.village_a1.id, "period": month}
    for path in ("/api/v1/reports/income/households", "/api/v1/reports/income"):
        as_csv = client.get(f"{path}.csv", query_string=query, headers=people.admin_headers)
        assert as_csv.status_code == 200
        cells = [cell for row in _csv_rows(as_csv.data) for cell in row]
        assert not any(cell.startswith(FORMULA_STARTS) for cell in cells), cells
        as_xlsx = client.get(f"{path}.xlsx", query_string=query, headers=people.admin_headers)
        assert as_xlsx.status_code == 200
        values = _assert_no_formula(as_xlsx.data)
        if path.endswith("households"):
            assert csv_text(name) in cells
            assert name in values
    session.rollback()


def test_a_name_the_bank_file_cannot_carry_is_refused_naming_the_character(
    client, regions, people, id_number
):
    for name, code in (
        ("王,桂芬", "bank_text.separator"),
        ("王\u202e芬", "bank_text.control_character"),
        ("王🙂", "bank_text.not_gbk"),
        (" 王桂芬", "bank_text.untrimmed"),
    ):
        refused = _registered(client, people.admin_headers, regions.village_a1, name, id_number())
        assert refused.status_code == 422, name
        [reason] = refused.json["reasons"]["head_name"]
        assert reason["code"] == code


@pytest.mark.parametrize("name", ['=HYPERLINK("x")', "-王桂芬", "@李长顺", "+赵，秀兰"])
def test_every_payout_file_has_one_record_per_line_with_the_registrys_names(
    client, session, regions, people, make_household, give_card, accrue, name
):
    households = [
        make_household(regions.village_a1, head_name=head) for head in (name, "孙玉梅", "张铁柱")
    ]
    for household in households:
        give_card(household)
        accrue(household.id, 12_345)
    run = approved_run(client, people, regions)
    lines = run["lines"]
    assert len(lines) == 3
    sheet = client.get(f"{RUNS}/{run['id']}/files/yikatong.xlsx", headers=people.admin_headers)
    workbook = load_workbook(io.BytesIO(sheet.data))
    rows = list(workbook.active.iter_rows(min_row=2))
    assert len(rows) == len(lines)
    assert sorted(row[0].value for row in rows) == sorted(h.head_name for h in households)
    assert all(row[0].data_type == "s" for row in rows)
    _assert_no_formula(sheet.data)
    bank = client.get(f"{RUNS}/{run['id']}/files/bank.txt", headers=people.admin_headers)
    records = bank.data.decode("gbk").split("\r\n")[1:-1]
    assert len(records) == len(lines)
    assert sorted(record.split(",")[2] for record in records) == sorted(
        h.head_name for h in households
    )


#: Any text a report row may carry (a product, co-op, village or unit name; a session title),
#: unfiltered by registration: the writers alone keep it from becoming a formula.
#: (Text the API takes: no lone surrogate, no control character but tab, CR and LF.)
any_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
    | st.sampled_from((*FORMULA_STARTS, "\n")),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(any_text, st.integers(-(10**12), 10**12), st.integers(-(10**6), 10**6)),
        min_size=1,
        max_size=5,
    ),
    scope=any_text,
)
def test_every_text_cell_is_text_and_every_number_a_number(rows, scope):
    """Every file the service produces is a ``Table`` written by ``exports``: text columns
    never carry a formula, amounts (negative included) and counts stay numbers."""
    table = Table(
        name="hostile",
        title="=HYPERLINK(1)",
        scope=scope,
        period="2026-11",
        columns=[
            Column("name", "名称"),
            Column("net_fen", "净收入(元)", "yuan"),
            Column("orders", "订单数", "int"),
        ],
        rows=[{"name": name, "net_fen": fen, "orders": count} for name, fen, count in rows],
    )
    actor = Actor(user_id=1, username="@admin", role=Role.admin)
    written = _csv_rows(b"".join(csv_chunks(table)))[1:]
    for (name, fen, count), (name_cell, yuan_cell, count_cell) in zip(rows, written, strict=True):
        assert name_cell == csv_text(name) and not name_cell.startswith(FORMULA_STARTS)
        assert Decimal(yuan_cell) * 100 == fen and int(count_cell) == count
    workbook = load_workbook(io.BytesIO(b"".join(xlsx_chunks(table, actor))))
    cells = [cell for row in workbook.active.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    data = list(workbook.active.iter_rows(min_row=8, values_only=True))
    for (name, fen, count), (name_value, yuan_value, count_value) in zip(rows, data, strict=True):
        # XML reads a carriage return back as a line feed: the same line break to Excel.
        assert (name_value or "") == name.replace("\r\n", "\n").replace("\r", "\n")
        assert isinstance(yuan_value, int | float) and round(yuan_value * 100) == fen
        assert count_value == count
