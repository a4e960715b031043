"""The registry file: a CSV with Chinese headers, as counties export it.

Each data row is turned into the API's own input (labels to values, text to numbers and dates)
and loaded through the API's schemas, so a row passes exactly the checks that a household
registered through the API passes. Checks against the database are the importer's.
"""

import codecs
from dataclasses import dataclass, field
from datetime import date, datetime

from marshmallow import ValidationError

from marketplace import pii
from marketplace.households.models import HouseholdStatus, MonitoringType, PovertyCause
from marketplace.households.schemas import HouseholdIn, PayoutAccountIn
from marketplace.households.service import SELF, holder_problems

#: Column header -> field. Headers are matched after trimming spaces.
COLUMNS = {
    "建档立卡编号": "registry_number",
    "户主姓名": "head_name",
    "身份证号": "head_id_number",
    "家庭人数": "members_count",
    "村代码": "village_code",
    "联系电话": "phone",
    "详细地址": "address",
    "户类型": "status",
    "监测类型": "monitoring_type",
    "状态生效日期": "status_effective_from",
    "致贫原因": "poverty_causes",
    "帮扶责任人": "helper_name",
    "帮扶人电话": "helper_phone",
    "开户银行": "bank_name",
    "一卡通卡号": "card_number",
    "持卡人姓名": "holder_name",
    "持卡人身份证号": "holder_id_number",
    "与户主关系": "holder_relation",
}
#: Other spellings found in county exports.
HEADER_ALIASES = {"户主身份证号": "身份证号", "状态": "户类型", "家庭人口数": "家庭人数"}
REQUIRED_COLUMNS = (
    "建档立卡编号",
    "户主姓名",
    "身份证号",
    "家庭人数",
    "村代码",
    "户类型",
    "状态生效日期",
)
PAYOUT_COLUMNS = ("开户银行", "一卡通卡号", "持卡人姓名", "持卡人身份证号", "与户主关系")

STATUS_LABELS = {
    "贫困户": HouseholdStatus.in_poverty,
    "未脱贫户": HouseholdStatus.in_poverty,
    "脱贫户": HouseholdStatus.lifted,
    "已脱贫户": HouseholdStatus.lifted,
    "监测户": HouseholdStatus.monitoring,
    "监测对象": HouseholdStatus.monitoring,
}
MONITORING_LABELS = {
    "脱贫不稳定户": MonitoringType.unstable_lifted,
    "边缘易致贫户": MonitoringType.marginal,
    "突发严重困难户": MonitoringType.sudden_hardship,
}
CAUSE_LABELS = {
    "因病": PovertyCause.illness,
    "因残": PovertyCause.disability,
    "因学": PovertyCause.schooling,
    "因灾": PovertyCause.disaster,
    "缺土地": PovertyCause.lack_of_land,
    "缺水": PovertyCause.lack_of_water,
    "缺技术": PovertyCause.lack_of_skills,
    "缺劳力": PovertyCause.lack_of_labour,
    "缺资金": PovertyCause.lack_of_funds,
    "交通条件落后": PovertyCause.poor_transport,
    "自身发展动力不足": PovertyCause.lack_of_motivation,
    "其他": PovertyCause.other,
}
CAUSE_SEPARATORS = ("、", ";", "；", ",", "，")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
#: Columns whose numbers spreadsheet users protect with a leading apostrophe.
NUMBER_COLUMNS = ("身份证号", "一卡通卡号", "持卡人身份证号")
_HEADER_OF = {name: header for header, name in COLUMNS.items()} | {"village_id": "村代码"}


@dataclass(frozen=True)
class RowProblem:
    #: the line of the file (the header is line 1); 1 for problems with the header itself
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class RegistryRow:
    """One data row as the API's input, with the problems found in it."""

    line: int
    household: dict
    payout: dict | None
    village_code: str
    #: kept even when other cells are bad, so that duplicates are reported with the rest
    registry_number: str | None = None
    head_id_lookup: str | None = None
    problems: list[RowProblem] = field(default_factory=list)

    def problem(self, column_or_field: str, message: str) -> None:
        column = _HEADER_OF.get(column_or_field, column_or_field)
        self.problems.append(RowProblem(self.line, column, message))


def decode_registry_file(raw: bytes) -> str:
    """UTF-8 (with or without the BOM that spreadsheet programs write), else GB18030."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_headers(reader) -> tuple[list[str], list[RowProblem]]:
    """The columns named by the first line, and what is wrong with them."""
    first = next(reader, None)
    if first is None:
        return [], [RowProblem(1, "", "the file is empty")]
    headers = [HEADER_ALIASES.get(cell.strip(), cell.strip()) for cell in first]
    problems = []
    for header in headers:
        if header not in COLUMNS:
            problems.append(RowProblem(1, header, "unknown column"))
        elif headers.count(header) > 1:
            problems.append(RowProblem(1, header, "appears more than once"))
    for header in REQUIRED_COLUMNS:
        if header not in headers:
            problems.append(RowProblem(1, header, "required column is missing"))
    # A duplicated column is reported once, not once per occurrence.
    return headers, list(dict.fromkeys(problems))


def _cell(values: dict, header: str) -> str | None:
    value = values.get(header, "").strip()
    if header in NUMBER_COLUMNS:
        value = value.lstrip("'")
    return value or None


def _label(row: RegistryRow, column: str, value: str | None, labels: dict, enum_type):
    """A Chinese label or the API's own value, else a problem naming the accepted labels."""
    if value is None:
        return None
    if value in labels:
        return labels[value].value
    if value in enum_type.__members__:
        return value
    row.problem(column, "must be one of " + "、".join(labels))
    return None


def parse_row(line: int, headers: list[str], cells: list[str], today: date) -> RegistryRow:
    row = RegistryRow(line, {}, None, "")
    if len(cells) > len(headers) and any(cell.strip() for cell in cells[len(headers) :]):
        row.problem("", f"has {len(cells)} cells for {len(headers)} columns")
        return row
    values = dict(zip(headers, cells, strict=False))
    row.village_code = _cell(values, "村代码") or ""
    if not row.village_code:
        row.problem("村代码", "required")
    household_columns = [h for h in COLUMNS if h not in PAYOUT_COLUMNS and h != "村代码"]
    filled = {COLUMNS[header]: _cell(values, header) for header in household_columns}
    payload = {name: value for name, value in filled.items() if value is not None}
    if "members_count" in payload:
        try:
            payload["members_count"] = int(payload["members_count"])
        except ValueError:
            row.problem("家庭人数", "must be a whole number")
    payload["status"] = _label(row, "户类型", payload.get("status"), STATUS_LABELS, HouseholdStatus)
    payload["monitoring_type"] = _label(
        row, "监测类型", payload.get("monitoring_type"), MONITORING_LABELS, MonitoringType
    )
    payload["status_effective_from"] = _parse_date(row, payload.get("status_effective_from"))
    payload["poverty_causes"] = _causes(row, payload.get("poverty_causes"))
    already_reported = {problem.column for problem in row.problems}
    try:
        # The village is resolved from its code in bulk, against the database.
        row.household = HouseholdIn().load(payload, partial=("village_id",))
        valid = row.household
    except ValidationError as error:
        valid = error.valid_data or {}
        for name, messages in _flat(error.messages).items():
            if _HEADER_OF.get(name, name) not in already_reported:
                row.problem(name, "; ".join(messages))
    row.registry_number = valid.get("registry_number")
    if valid.get("head_id_number"):
        row.head_id_lookup = pii.cipher().lookup_hash(valid["head_id_number"])
    if row.household and row.household["status_effective_from"] > today:
        row.problem("状态生效日期", "must not be in the future")
    row.payout = _parse_payout(row, values)
    return row


def _parse_date(row: RegistryRow, value: str | None) -> date | None:
    if value is None:
        row.problem("状态生效日期", "required")
        return None
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    row.problem("状态生效日期", "must be a date like 2016-12-31")
    return None


def _causes(row: RegistryRow, value: str | None) -> list[str]:
    if value is None:
        return []
    for separator in CAUSE_SEPARATORS[1:]:
        value = value.replace(separator, CAUSE_SEPARATORS[0])
    parts = [part.strip() for part in value.split(CAUSE_SEPARATORS[0]) if part.strip()]
    causes = [_label(row, "致贫原因", part, CAUSE_LABELS, PovertyCause) for part in parts]
    return [cause for cause in causes if cause is not None]


def _parse_payout(row: RegistryRow, values: dict) -> dict | None:
    """The optional one-card account; a holder who is the head may leave name and ID empty."""
    given = {header: _cell(values, header) for header in PAYOUT_COLUMNS}
    if not any(given.values()):
        return None
    payload = {COLUMNS[header]: value for header, value in given.items() if value is not None}
    defaulted = set()
    if payload.setdefault("holder_relation", SELF) == SELF:
        for holder_field, head_column in (
            ("holder_name", "户主姓名"),
            ("holder_id_number", "身份证号"),
        ):
            if holder_field not in payload and _cell(values, head_column):
                payload[holder_field] = _cell(values, head_column)
                defaulted.add(holder_field)
    try:
        payout = PayoutAccountIn().load(payload)
    except ValidationError as error:
        for name, messages in _flat(error.messages).items():
            if name not in defaulted:  # the head's own cell is reported already
                row.problem(name, "; ".join(messages))
        return None
    if row.household:
        head_lookup = pii.cipher().lookup_hash(row.household["head_id_number"])
        holder_errors = holder_problems(row.household["head_name"], head_lookup, payout)
        for name, messages in holder_errors.items():
            row.problem(name, "; ".join(messages))
    return payout


def _flat(messages: dict) -> dict[str, list[str]]:
    flat = {}
    for name, value in messages.items():
        if isinstance(value, dict):  # a list field: {index: [messages]}
            value = [message for inner in value.values() for message in inner]
        flat[name] = value
    return flat
