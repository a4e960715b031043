"""Importing a registry CSV: `flask households import FILE` and the service behind it."""

import logging
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace import pii
from marketplace.households import importing
from marketplace.households.models import (
    Household,
    HouseholdStatus,
    HouseholdStatusChange,
    MonitoringType,
    PayoutAccount,
)

SAMPLE = Path(__file__).parent / "data" / "registry_sample.csv"
HEADER = "建档立卡编号,户主姓名,身份证号,家庭人数,村代码,户类型,状态生效日期"


@pytest.fixture
def sample_villages(make_region):
    """The villages the sample file names (a county code apart from the shared tree's)."""
    county = make_region(code="220621000000", name="样例县")
    township = make_region(county, code="220621101000", name="样例镇")
    return (
        make_region(township, code="220621101201", name="样例一村"),
        make_region(township, code="220621101202", name="样例二村"),
    )


@pytest.fixture
def run_import(app, session, tmp_path):
    def run(content: bytes | str, *args: str, encoding: str = "utf-8"):
        # The command commits or rolls back its session: keep the test's rows out of that.
        session.commit()
        path = tmp_path / "registry.csv"
        path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
        return app.test_cli_runner().invoke(args=["households", "import", str(path), *args])

    return run


def count(session, model) -> int:
    session.expire_all()
    return session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def id_number(body17: str) -> str:
    return body17 + pii.id_check_digit(body17)


def test_the_sample_file_imports(session, sample_villages, run_import, caplog):
    caplog.set_level(logging.DEBUG)
    result = run_import(SAMPLE.read_bytes())
    assert result.exit_code == 0, result.output + result.stderr
    assert "Imported 5 households (2 with a payout account)" in result.output
    assert count(session, Household) == 5
    assert count(session, HouseholdStatusChange) == 5
    assert count(session, PayoutAccount) == 2

    rows = {h.registry_number: h for h in session.execute(sa.select(Household)).scalars()}
    first = rows["2206211012010001"]
    assert first.head_name == "张秋实"
    assert pii.cipher().decrypt(first.head_id_encrypted) == "220621196503121019"
    assert first.head_id_masked == "220***********1019"
    assert first.poverty_causes == ["illness", "lack_of_skills"]
    assert first.village_id == sample_villages[0].id
    assert (first.status, first.monitoring_type, first.version) == (HouseholdStatus.lifted, None, 1)
    monitored = rows["2206211012010002"]
    assert (monitored.status, monitored.monitoring_type) == (
        HouseholdStatus.monitoring,
        MonitoringType.marginal,
    )
    assert rows["2206211012020003"].poverty_causes == ["lack_of_labour", "lack_of_funds"]
    assert rows["2206211012020004"].head_id_masked.endswith("406X")

    history = session.execute(
        sa.select(HouseholdStatusChange.effective_from).where(
            HouseholdStatusChange.household_id == rows["2206211012020004"].id
        )
    ).scalar_one()
    assert history == date(2023, 8, 15)

    accounts = {a.household_id: a for a in session.execute(sa.select(PayoutAccount)).scalars()}
    own = accounts[first.id]
    assert (own.holder_name, own.holder_relation) == ("张秋实", "本人")
    assert pii.cipher().decrypt(own.holder_id_encrypted) == "220621196503121019"
    spouse = accounts[monitored.id]
    assert (spouse.holder_name, spouse.holder_relation) == ("王桂兰", "配偶")
    assert spouse.card_masked == "621************0025"

    plain = "220621196503121019"
    assert plain not in result.output and plain not in result.stderr
    assert plain not in caplog.text


def test_one_bad_row_imports_nothing_and_names_line_and_column(
    session, sample_villages, run_import
):
    lines = SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    # Line 4 of the file: a wrong check digit in the head's ID number.
    cells = lines[3].split(",")
    cells[2] = cells[2][:-1] + ("0" if cells[2][-1] != "0" else "1")
    lines[3] = ",".join(cells)
    result = run_import("\n".join(lines) + "\n")
    assert result.exit_code == 1
    assert "line 4, 身份证号: has a wrong check digit" in result.stderr
    assert "nothing was imported" in result.stderr
    assert count(session, Household) == 0
    assert count(session, HouseholdStatusChange) == 0
    assert count(session, PayoutAccount) == 0


def test_every_problem_is_reported_with_its_line(session, sample_villages, run_import):
    good = id_number("22062119700101123")
    content = "\n".join(
        [
            HEADER + ",监测类型,联系电话,致贫原因",
            f"A0000001,张一,{good},0,220621101201,脱贫户,2020-12-31,,13900000000,因病",
            f"A0000002,张二,{id_number('22062119700101124')},2,999999999999,富裕户,2020-12-31,,,",
            f"A0000003,张三,{id_number('22062119700101125')},2,220621101201,监测户,2020-13-01,,,",
            f"A0000001,张四,{good},2,220621101202,脱贫户,2020-12-31,边缘易致贫户,123,懒",
        ]
    )
    result = run_import(content + "\n", encoding="gb18030")
    assert result.exit_code == 1
    expected = [
        "line 2, 家庭人数:",
        "line 3, 村代码: is not the 12-digit code of a known village",
        "line 3, 户类型: must be one of",
        "line 4, 状态生效日期: must be a date",
        "line 4, 监测类型: required when the status is monitoring",
        "line 5, 监测类型: only for the status monitoring",
        "line 5, 联系电话: must be a mainland mobile number",
        "line 5, 致贫原因: must be one of",
        "line 5, 建档立卡编号: repeats line 2",
        "line 5, 身份证号: repeats line 2",
    ]
    for message in expected:
        assert message in result.stderr, result.stderr
    assert good not in result.stderr
    assert count(session, Household) == 0


def test_header_problems(session, sample_villages, run_import):
    result = run_import("建档立卡编号,户主姓名,身份证号,婚姻状况\nA1,张一,1,已婚\n")
    assert result.exit_code == 1
    assert "line 1, 婚姻状况: unknown column" in result.stderr
    for missing in ("家庭人数", "村代码", "户类型", "状态生效日期"):
        assert f"line 1, {missing}: required column is missing" in result.stderr
    assert count(session, Household) == 0


def test_a_gb18030_file_decodes(session, sample_villages, run_import):
    text = SAMPLE.read_text(encoding="utf-8-sig")
    assert text.encode("gb18030") != text.encode("utf-8")
    result = run_import(text, encoding="gb18030")
    assert result.exit_code == 0, result.stderr
    names = session.execute(sa.select(Household.head_name).order_by(Household.id)).scalars()
    assert list(names) == ["张秋实", "李满仓", "赵大年", "刘桂香", "陈守田"]


def test_utf8_without_bom_and_aliases(session, sample_villages, run_import):
    number = id_number("22062119700101126")
    content = (
        "户主身份证号,户主姓名,建档立卡编号,家庭人口数,村代码,状态,状态生效日期,一卡通卡号,开户银行\n"
        f"'{number},张五,A0000005,2,220621101201,lifted,2020.12.31,6228480000000000011,农商行\n"
    )
    result = run_import(content)
    assert result.exit_code == 0, result.stderr
    household = session.execute(sa.select(Household)).scalar_one()
    assert household.head_id_lookup == pii.cipher().lookup_hash(number)
    assert count(session, PayoutAccount) == 1


def test_dry_run_writes_nothing(session, sample_villages, run_import):
    result = run_import(SAMPLE.read_bytes(), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Dry run: 5 rows are valid" in result.output
    assert count(session, Household) == 0


def test_registered_numbers_are_reported_or_skipped(session, sample_villages, run_import):
    assert run_import(SAMPLE.read_bytes()).exit_code == 0
    again = run_import(SAMPLE.read_bytes())
    assert again.exit_code == 1
    assert "line 2, 建档立卡编号: already registered" in again.stderr
    skipped = run_import(SAMPLE.read_bytes(), "--skip-existing")
    assert skipped.exit_code == 0, skipped.stderr
    assert "Imported 0 households" in skipped.output and "skipped 5" in skipped.output
    assert count(session, Household) == 5


def test_skip_existing_still_refuses_a_different_head(session, sample_villages, run_import):
    assert run_import(SAMPLE.read_bytes()).exit_code == 0
    other = id_number("22062119700101127")
    content = f"{HEADER}\n2206211012010001,张秋实,{other},4,220621101201,脱贫户,2019-12-31\n"
    result = run_import(content, "--skip-existing")
    assert result.exit_code == 1
    assert "line 2, 身份证号: differs from the head registered under this number" in result.stderr


def test_a_head_already_registered_elsewhere_is_refused(
    session, sample_villages, make_household, run_import
):
    existing = make_household(sample_villages[0])
    content = (
        f"{HEADER}\nB0000001,张六,{existing.plain_id_number},2,220621101201,脱贫户,2020-12-31\n"
    )
    result = run_import(content)
    assert result.exit_code == 1
    assert "line 2, 身份证号: already registered as the head of another household" in result.stderr
    assert count(session, Household) == 1


def test_future_dated_status_and_future_garbage(session, sample_villages, run_import):
    content = (
        f"{HEADER}\nB0000002,张七,{id_number('22062119700101128')},2,220621101201,脱贫户,"
        "2999-01-01\n"
    )
    result = run_import(content)
    assert result.exit_code == 1
    assert "line 2, 状态生效日期: must not be in the future" in result.stderr


def test_undecodable_and_empty_files(session, run_import):
    empty = run_import(b"")
    assert empty.exit_code == 1 and "the file is empty" in empty.stderr
    only_header = run_import(HEADER + "\n")
    assert only_header.exit_code == 1 and "no data rows" in only_header.stderr
    garbage = run_import(b"\xff\xfe\x00\x81\x30\x81")
    assert garbage.exit_code == 1 and "neither UTF-8 nor GB18030" in garbage.stderr


def test_the_service_imports_in_bulk(session, sample_villages, count_queries):
    """A constant number of statements, however many rows: no per-row round trips."""
    with count_queries() as counted:
        report = importing.import_registry(session, SAMPLE.read_bytes())
    assert report.ok and report.created == 5
    # villages, registry numbers, head IDs; households, status changes, accounts
    assert counted.count == 6


def test_payout_cells_are_checked_and_reported_once(session, sample_villages, run_import):
    bad_head = id_number("22062119700101129")[:-1] + "0"
    if pii.id_number_problem(bad_head) is None:
        bad_head = bad_head[:-1] + "1"
    content = (
        f"{HEADER},开户银行,一卡通卡号\n"
        f"C0000001,张八,{bad_head},2,220621101201,脱贫户,2020-12-31,农商行,6228480000000000011\n"
        f"C0000002,张九,{id_number('22062119700101130')},2,220621101201,脱贫户,2020-12-31,"
        "农商行,6228-4800\n"
    )
    result = run_import(content)
    assert result.exit_code == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert problems == [
        "line 2, 身份证号: has a wrong check digit",
        "line 3, 一卡通卡号: must be 12 to 19 digits",
    ]


def test_a_file_that_is_not_csv_is_a_problem_not_a_crash(session, sample_villages, run_import):
    # A cell past the csv module's field limit (an unclosed quote swallows the rest).
    swallowed = run_import(HEADER + '\n"P001,' + "x" * 200_000 + "\n")
    assert swallowed.exit_code == 1, swallowed.output
    assert "line 2" in swallowed.stderr and "not CSV here" in swallowed.stderr
    assert count(session, Household) == 0
