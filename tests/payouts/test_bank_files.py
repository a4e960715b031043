"""The bank formats against the real sample files, and exact yuan/fen conversion."""

from decimal import Decimal
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from marketplace.payouts import bank_files, bank_txt
from marketplace.payouts.bank_files import BankFileError
from tests.payouts.conftest import DATA


def test_the_sample_disbursement_reads_with_exact_amounts():
    rows = bank_files.read_yikatong((DATA / "yikatong_disbursement.xlsx").read_bytes())

    assert len(rows) == 8
    assert rows[0].name == "王桂芬"
    assert rows[0].id_number == "220581196403120247"
    assert rows[0].card_number == "9999001000000000011"
    assert rows[0].amount_fen == 123_640
    assert rows[7].id_number == "22058119670809035X"
    assert [row.amount_fen for row in rows] == [
        123_640, 87_920, 45_500, 154_080, 31_260, 68_800, 26_450, 92_130
    ]  # fmt: skip
    assert {row.batch_serial for row in rows} == {"5f0c2e9a-0000-4000-8000-00000000d001"}


def test_the_sample_return_has_two_failures_with_their_reasons():
    rows = bank_files.read_yikatong_return((DATA / "yikatong_bank_return.xlsx").read_bytes())

    failed = {row.name: row.failure_reason for row in rows if row.outcome == "failed"}
    assert failed == {"赵秀兰": "账户已销户", "张铁柱": "户名不符,账户名为[张铁*]"}
    assert sum(1 for row in rows if row.outcome == "paid") == 6


def test_our_spreadsheet_reads_back_the_same_and_keeps_digits_as_text():
    sample = bank_files.read_yikatong((DATA / "yikatong_disbursement.xlsx").read_bytes())

    written = bank_files.write_yikatong(sample)

    assert bank_files.read_yikatong(written) == sample
    sheet = load_workbook(BytesIO(written))["导出"]
    assert [cell.value for cell in sheet[1]] == list(bank_files.YIKATONG_COLUMNS)
    assert sheet["C2"].data_type == "s" and sheet["D2"].data_type == "s"
    assert sheet["C2"].value == "220581196403120247"
    assert sheet["F2"].data_type == "n" and sheet["F2"].number_format == "0.00"


def test_the_bank_text_file_is_written_byte_for_byte_like_the_sample():
    sample = (DATA / "abc_daifa_samebank.txt").read_bytes()

    transfers = bank_txt.read_bank_txt(sample)

    assert [t.amount_fen for t in transfers] == [123_640, 87_920, 45_500, 154_080, 31_260]
    assert bank_txt.write_bank_txt(transfers) == sample


def test_a_bank_text_file_whose_total_is_wrong_is_refused():
    sample = (DATA / "abc_daifa_samebank.txt").read_bytes()

    with pytest.raises(bank_files.BankFileError) as refused:
        bank_txt.read_bank_txt(sample.replace(b"4424.00", b"4424.01"))
    assert refused.value.errors["total"] == ["does not equal the sum of the rows"]
    assert refused.value.errors["total"][0].code == "bank_file.total_not_sum"


def test_a_name_the_bank_format_cannot_carry_refuses_the_file_instead_of_changing():
    """The format has no quoting: a comma would shift the columns. The writer used to swap it
    for a full-width one, sending the bank a name the registry does not hold."""
    with pytest.raises(BankFileError) as refused:
        bank_txt.write_bank_txt(
            [
                bank_txt.BankTransfer("6217000000000000001", "王,桂芬", 100, "货款"),
                bank_txt.BankTransfer("6217000000000000002", "李\n强", 100, "货款"),
                bank_txt.BankTransfer("6217000000000000003", "赵🙂", 100, "货款,九月"),
            ]
        )
    codes = {field: [m.code for m in messages] for field, messages in refused.value.errors.items()}
    assert codes == {
        "rows.1.收款人姓名": ["bank_text.separator"],
        "rows.2.收款人姓名": ["bank_text.control_character"],
        "rows.3.收款人姓名": ["bank_text.not_gbk"],
        "rows.3.备注": ["bank_text.separator"],
    }


@pytest.mark.parametrize(
    ("value", "fen"),
    [(1236.4, 123_640), (455, 45_500), ("879.20", 87_920), (Decimal("0.01"), 1), (264.5, 26_450)],
)
def test_yuan_convert_to_fen_exactly(value, fen):
    assert bank_files.yuan_to_fen(value) == fen


@pytest.mark.parametrize("value", [0.1 + 0.2, "1.005", "abc", None, True, float("nan"), "1e400"])
def test_what_is_not_a_whole_number_of_fen_is_refused(value):
    with pytest.raises(ValueError) as refused:
        bank_files.yuan_to_fen(value)
    assert refused.value.reason.code.startswith("bank_file.")


@given(st.integers(0, 10**12))
def test_fen_survive_a_spreadsheet_float_round_trip(fen):
    as_cell = float(bank_files.fen_to_yuan(fen))
    assert bank_files.yuan_to_fen(as_cell) == fen


def test_a_return_with_a_numeric_id_cell_is_refused_naming_the_row():
    workbook_rows = bank_files.read_yikatong((DATA / "yikatong_disbursement.xlsx").read_bytes())
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "导出"
    sheet.append([*bank_files.YIKATONG_COLUMNS, "失败原因"])
    row = workbook_rows[0]
    sheet.append(
        [
            row.name,
            row.phone,
            2.2058119640312e17,
            row.card_number,
            row.project_name,
            1236.4,
            None,
            None,
            None,
            row.batch_serial,
            "成功",
            None,
        ]
    )
    buffer = BytesIO()
    workbook.save(buffer)

    with pytest.raises(bank_files.BankFileError) as refused:
        bank_files.read_yikatong_return(buffer.getvalue())
    assert list(refused.value.errors) == ["rows.2.身份证号"]
    (why,) = refused.value.errors["rows.2.身份证号"]
    assert (why, why.code) == (
        "must be a text cell (a number cell loses digits)",
        "bank_file.number_cell",
    )


def test_something_that_is_not_a_workbook_is_refused():
    with pytest.raises(bank_files.BankFileError) as refused:
        bank_files.read_yikatong_return(b"name,amount\n")
    assert "file" in refused.value.errors
