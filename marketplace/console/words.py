"""The words the console's users speak for the service's states and kinds: one vocabulary, so a
page never shows ``douyin``, ``attribution`` or ``pending_payment`` and no two pages name a
state differently.

Templates write ``{{ order.status | zh }}`` for an enum member, or
``{{ "douyin" | zh("Platform") }}`` for a value that arrives as text, naming its enum. A
value with no word is shown as it is (and ``tests/console/test_words.py`` fails while any
member of a listed enum has none).
"""

import enum

from marketplace.catalog.models import CertificationLevel, ProductStatus
from marketplace.households.models import HouseholdStatus
from marketplace.jobs.models import JobState
from marketplace.ledger.models import EntryKind, FundSource
from marketplace.ledger.pledges.models import PayerKind, PledgeKind, PledgeState
from marketplace.livestreams.models import HostKind, Platform, SessionState
from marketplace.orders.models import Channel, LinePricing, OrderStatus, PaymentStatus
from marketplace.payments.models import Gateway, PaymentState, RefundState
from marketplace.payouts.models import LineStatus, PayeeKind, RunStatus
from marketplace.producers.models import ProducerKind, UnitKind
from marketplace.regions.models import RegionLevel
from marketplace.reports import files
from marketplace.reports.figures import Source

#: The words a downloaded file shares with the pages are the files' own (reports sits below the
#: console), so a file and a page never name a kind differently.
WORDS: dict[type[enum.Enum], dict[str, str]] = {
    ProductStatus: {"draft": "草稿", "active": "在售", "delisted": "已下架"},
    CertificationLevel: {
        "national": "国家级",
        "provincial": "省级",
        "municipal": "市级",
        "county": "县级",
    },
    JobState: {
        "queued": "排队中",
        "running": "进行中",
        "succeeded": "已完成",
        "failed": "失败",
        "cancelled": "已取消",
    },
    OrderStatus: {
        "pending_payment": "待付款",
        "paid": "已付款",
        "shipped": "已发货",
        "delivered": "已签收",
        "completed": "已完成",
        "cancelled": "已取消",
        "refunded": "已退款",
    },
    PaymentStatus: {
        "unpaid": "未付款",
        "paid": "已付款",
        "partially_refunded": "部分退款",
        "refunded": "已退款",
        "void": "已作废",
        "late_capture_refunded": "超时到账已退回",
    },
    Channel: files.CHANNELS,
    LinePricing: {
        "catalog": "标价",
        "live": "直播价",
        "session_not_live": "直播未开始，按标价",
        "not_featured": "非直播商品，按标价",
        "cap_reached": "直播价限量已满，按标价",
        "platform": "平台成交价",
    },
    Platform: files.PLATFORMS,
    SessionState: {"scheduled": "预告", "live": "直播中", "ended": "已结束", "cancelled": "已取消"},
    HostKind: {"official": "干部主播", "station_operator": "服务站主播", "guest": "嘉宾"},
    RunStatus: {
        "proposed": "待审批",
        "approved": "已审批",
        "settled": "已结清",
        "cancelled": "已取消",
    },
    PayeeKind: {"household": "农户", "producer": "经营主体"},
    LineStatus: {
        "proposed": "待审批",
        "in_transit": "银行处理中",
        "paid": "已到账",
        "failed": "失败",
    },
    Source: {
        "own_sales": "自产自销",
        "coop_dividends": "合作社分红",
        "enterprise_linking": "企业带农",
        "assistance_funds": "帮扶资金",
        "livestream_pledges": "直播承诺",
    },
    Gateway: {"stripe": "在线支付", "offline": "线下收款", "platform": "外部平台收款"},
    PaymentState: {"pending": "待支付", "succeeded": "已支付", "cancelled": "已取消"},
    RefundState: {"pending": "退款中", "succeeded": "已退款", "failed": "退款失败"},
    PledgeState: {
        "pledged": "已承诺",
        "funded": "已到账",
        "disbursed": "已发放",
        "cancelled": "已取消",
    },
    PledgeKind: {"per_household": "每户定额", "share_of_net": "按净收入比例"},
    PayerKind: {"producer": "经营主体", "outside": "外部单位"},
    ProducerKind: {"household": "农户", "cooperative": "合作社", "enterprise": "企业"},
    UnitKind: {"government": "机关单位", "enterprise": "企业", "other": "其他单位"},
    HouseholdStatus: {"in_poverty": "未脱贫", "lifted": "已脱贫", "monitoring": "监测对象"},
    RegionLevel: {"county": "县", "township": "乡镇", "village": "村"},
    EntryKind: files.ENTRY_KINDS,
    FundSource: {"campaign": "活动收益", "enterprise_pledge": "企业捐赠", "other": "其他"},
}
_BY_NAME = {kind.__name__: words for kind, words in WORDS.items()}


def zh(value, kind: str | None = None) -> str:
    """``value`` (an enum member, or its value with ``kind`` naming its enum) in the users'
    words."""
    if value is None:
        return "—"
    if isinstance(value, enum.Enum):
        words = WORDS.get(type(value), {})
        return words.get(value.value, str(value.value))
    return _BY_NAME.get(kind or "", {}).get(str(value), str(value))
