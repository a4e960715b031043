"""Each report, and its drill-downs, as a table for ``exports``: its columns (Chinese headers),
its rows, what it is, its file's name, and whether it names households (then its download is
recorded)."""

from marketplace.accounts.auth import Actor
from marketplace.periods import Period
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import ancestors
from marketplace.reports import assistance, channels, income, income_households, trails
from marketplace.reports.exports import Column, Table
from marketplace.reports.figures import Source, flat
from marketplace.reports.frozen import Freezing, freezing, registry_freezing
from marketplace.reports.scoping import reported_region

_SOURCE_HEADERS = {
    Source.own_sales: "自产自销",
    Source.coop_dividends: "合作社分红",
    Source.enterprise_linking: "企业带农",
    Source.assistance_funds: "帮扶资金",
    Source.livestream_pledges: "直播承诺",
}
_FIGURES = [
    Column("households_registered", "建档户数", "int", 10),
    Column("households_reached", "受益户数", "int", 10),
    Column("members_reached", "受益人数", "int", 10),
    Column("gross_fen", "收入(元)", "yuan"),
    Column("refunds_fen", "退款冲减(元)", "yuan"),
    Column("net_fen", "净收入(元)", "yuan"),
    Column("paid_out_fen", "已发放(元)", "yuan"),
    Column("per_capita_fen", "人均(元)", "yuan", 12),
    *(
        Column(f"{source.value}_fen", f"{header}(元)", "yuan")
        for source, header in _SOURCE_HEADERS.items()
    ),
]
_STATUS = {"in_poverty": "未脱贫", "lifted": "已脱贫", "monitoring": "监测对象", None: ""}
# A file is read by the same people as the console, in its words: ``console/words.py`` (above
# reports) takes these three from here.
ENTRY_KINDS = {
    "attribution": "销售分配",
    "refund_reversal": "退款冲减",
    "late_capture": "超时到账",
    "late_capture_refund": "超时到账退回",
    "fund_contribution": "帮扶资金入账",
    "fund_disbursement": "帮扶资金",
    "minimum_dividend": "保底分红",
    "payout_approved": "发放",
    "payout_paid": "发放到账",
    "payout_returned": "发放退回",
}
CHANNELS = {
    "web": "网店",
    "livestream": "直播（本平台）",
    "station_counter": "服务站柜台",
    "unit_procurement": "单位采购",
    "imported": "外部平台",
}
PLATFORMS = {
    "own": "本平台",
    "douyin": "抖音",
    "kuaishou": "快手",
    "taobao": "淘宝直播",
    "pinduoduo": "拼多多",
    "wechat_channels": "视频号",
}


def _channel_name(channel: str) -> str:
    """``web`` -> 网店, ``imported:douyin`` -> 抖音 (a platform's sales by their platform)."""
    kind, _, platform = channel.partition(":")
    if platform:
        return PLATFORMS.get(platform, platform)
    return CHANNELS.get(kind, kind)


def _region_path(session, region_id: int) -> tuple[Region, str]:
    """The region, and its names from the county down: ``青松县-白山镇``."""
    region = session.get(Region, region_id)
    return region, "-".join(above.name for above in [*ancestors(session, region), region])


def _file_names(session, region_id: int, period: str, kind: str, what: str) -> dict:
    """The file's names: the region's path, the period and what it is as people read it
    (``青松县-白山镇-2026-11-收入``), and in ASCII (``income-township-12-2026-11``)."""
    region, path = _region_path(session, region_id)
    return {
        "filename": f"{kind}-{region.level.value}-{region.id}-{period}",
        "download_name": f"{path}-{period}-{what}",
    }


def _scope(report: dict) -> str:
    return f"{report['region']['name']} (id {report['region']['id']})"


def _closed(found: Freezing | None) -> dict:
    """A closed month's file names its close (and is then the same bytes every time)."""
    if found is None:
        return {}
    return {"closed_by": found.closed_by, "closed_at": found.closed_at}


def _report_close(session, report: dict, period: Period) -> dict:
    if report["close"] is None:
        return {}
    return _closed(freezing(session, report["region"]["id"], period))


def income_table(session, actor: Actor, region_id: int, period: Period) -> Table:
    report = income.income_report(session, actor, region_id, period)
    by_household = report["region"]["level"] == RegionLevel.village
    if by_household:
        first = [
            Column("household_id", "户编号", "id", 10),
            Column("name", "户主", "text", 12),
            Column("status", "状态", "text", 10),
            Column("members", "人口", "int", 8),
        ]
    else:
        first = [Column("region_id", "区划编号", "id", 10), Column("name", "区划", "text", 16)]
    rows = [
        {**row, **flat(row), "status": _STATUS.get(row.get("status"))} for row in report["rows"]
    ]
    rows.append({"name": "合计", **flat(report["totals"])})
    return Table(
        name="income",
        title="帮扶收入报表",
        scope=_scope(report),
        period=period.label,
        columns=first + _FIGURES,
        rows=rows,
        personal=by_household,
        parameters={"region_id": region_id, "period": period.label},
        **_report_close(session, report, period),
        **_file_names(session, region_id, period.label, "income", "收入"),
    )


def income_households_table(session, actor: Actor, region_id: int, period: Period) -> Table:
    """Every household of the region, streamed: the drill-down of any level in one file."""
    region = reported_region(session, actor, region_id)
    rows = (
        {**row, "status": _STATUS.get(row["status"]), "reached": "是" if row["reached"] else "否"}
        for row in income_households.household_rows(session, region, period)
    )
    return Table(
        name="income_households",
        title="帮扶收入(到户)",
        scope=f"{region.name} (id {region.id})",
        period=period.label,
        columns=[
            Column("household_id", "户编号", "id", 10),
            Column("registry_number", "建档立卡编号", "id", 22),
            Column("name", "户主", "text", 12),
            Column("village", "村", "text", 12),
            Column("status", "状态", "text", 10),
            Column("members", "人口", "int", 8),
            Column("reached", "本期受益", "text", 10),
            *[
                c
                for c in _FIGURES
                if c.key not in ("households_registered", "households_reached", "members_reached")
            ],
        ],
        rows=rows,
        personal=True,
        parameters={"region_id": region_id, "period": period.label},
        **_closed(registry_freezing(session, region.id, period)),
        **_file_names(session, region.id, period.label, "income-households", "收入到户明细"),
    )


def channels_table(session, actor: Actor, region_id: int, period: Period) -> Table:
    report = channels.channel_report(session, actor, region_id, period)
    rows = [{"name": _channel_name(row["channel"]), **row} for row in report["by_channel"]]
    rows += [{"name": f"直播 {row['code']} {row['title']}", **row} for row in report["by_session"]]
    rows += [{"name": f"产地 {row['name']}", **row} for row in report["by_region"]]
    rows.append({"name": "合计", **report["totals"]})
    return Table(
        name="channels",
        title="渠道与直播销售",
        scope=_scope(report),
        period=period.label,
        columns=[
            Column("name", "渠道/直播场次", "text", 30),
            Column("orders", "订单数", "int", 10),
            Column("gross_fen", "销售额(元)", "yuan"),
            Column("refunds_fen", "退款(元)", "yuan"),
            Column("net_fen", "净销售额(元)", "yuan"),
            Column("attributed_fen", "带动农户收入(元)", "yuan", 16),
        ],
        rows=rows,
        parameters={"region_id": region_id, "period": period.label},
        **_report_close(session, report, period),
        **_file_names(session, region_id, period.label, "channels", "渠道与直播"),
    )


def assistance_table(session, actor: Actor, region_id: int, year: int) -> Table:
    report = assistance.assistance_report(session, actor, region_id, year)
    rows = []
    for unit in report["units"]:
        rows.append({**unit, "village": ""})
        rows += [
            {"name": unit["name"], **village, "village": village["name"]}
            for village in unit["by_village"]
        ]
    rows.append({"name": "合计", "village": "", **report["totals"]})
    return Table(
        name="assistance",
        title="消费帮扶完成情况",
        scope=_scope(report),
        period=str(year),
        columns=[
            Column("name", "采购单位", "text", 24),
            Column("village", "结对村", "text", 12),
            Column("quota_fen", "年度任务(元)", "yuan"),
            Column("certified_fen", "认定产品采购(元)", "yuan", 16),
            Column("uncertified_fen", "非认定产品(元)", "yuan", 16),
            Column("completion_bp", "完成率", "percent_bp", 10),
            Column("orders", "订单数", "int", 10),
        ],
        rows=rows,
        parameters={"region_id": region_id, "year": year},
        **_file_names(session, region_id, str(year), "assistance", "消费帮扶"),
    )


def trail_table(session, actor: Actor, household_id: int, period: Period) -> Table:
    """A household's postings in the period with their causes: the last drill-down."""
    trail, count = trails.household_trail(
        session, actor, household_id, start=period.start, end=period.end, page=1, page_size=10**9
    )
    household = trail["household"]
    rows = [
        {
            "effective_on": posting["effective_on"].isoformat(),
            "entry_kind": ENTRY_KINDS.get(posting["entry_kind"], posting["entry_kind"]),
            "income_fen": posting["income_fen"],
            "balance_fen": posting["balance_fen"],
            "order_number": posting["cause"]["order_number"],
            "product_name": posting["cause"]["product_name"],
            "producer_name": posting["cause"]["producer_name"],
            "fund_name": posting["cause"]["fund_name"],
            "payout_run_id": posting["cause"]["payout_run_id"],
        }
        for posting in trail["postings"]
    ]
    return Table(
        name="household_trail",
        title="农户收入明细",
        scope=f"{household.head_name} (户 {household.id})",
        period=period.label,
        columns=[
            Column("effective_on", "日期", "text", 12),
            Column("entry_kind", "类型", "text", 16),
            Column("income_fen", "收入(元)", "yuan"),
            Column("balance_fen", "应付余额(元)", "yuan"),
            Column("order_number", "订单号", "id", 22),
            Column("product_name", "商品", "text", 16),
            Column("producer_name", "生产主体", "text", 20),
            Column("fund_name", "帮扶资金", "text", 20),
            Column("payout_run_id", "发放批次", "id", 10),
        ],
        rows=rows,
        personal=True,
        parameters={"household_id": household_id, "period": period.label, "postings": count},
        **_household_file_names(session, household, period.label),
    )


def _household_file_names(session, household, period: str) -> dict:
    _, path = _region_path(session, household.village_id)
    return {
        "filename": f"postings-household-{household.id}-{period}",
        "download_name": f"{path}-{household.head_name}-{period}-收入明细",
    }
