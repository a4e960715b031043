"""The services' and schemas' reasons, in Chinese for the console's users.

The API speaks English to programs; an operator at a village station reads Chinese. The reasons
a console form meets most are listed here as patterns; a reason not listed is shown as the
service wrote it (better an English sentence than none). The API's own responses are unchanged.
"""

import re

_REASONS: list[tuple[re.Pattern, str]] = [
    (re.compile(pattern), chinese)
    for pattern, chinese in (
        # marshmallow's own
        (r"^Missing data for required field\.$", "必填"),
        (r"^Field may not be null\.$", "必填"),
        (r"^Not a valid integer\.$", "请输入整数"),
        (r"^Not a valid string\.$", "请输入文字"),
        (r"^Not a valid boolean\.$", "请选择是或否"),
        (r"^Must be one of: .*\.$", "请从列表中选择"),
        (
            r"^Must be greater than or equal to (\d+) and less than or equal to (\d+)\.$",
            r"须在 \1 到 \2 之间",
        ),
        (r"^Must be greater than or equal to (\d+)\.$", r"不能小于 \1"),
        (r"^Shorter than minimum length (\d+)\.$", r"至少 \1 个字"),
        (r"^Longer than maximum length (\d+)\.$", r"最多 \1 个字"),
        (r"^Length must be between (\d+) and (\d+)\.$", r"长度须在 \1 到 \2 个字之间"),
        (r"^Unknown field\.$", "多余的字段"),
        # the schemas' own
        (r"^6-64 letters, digits or -$", "运单号为 6–64 位字母、数字或 -"),
        (r"^letters, digits, _ \. - only$", "只能用字母、数字和 _ . -"),
        (r"^not a phone number$", "不是有效的电话号码"),
        # the services'
        (r"^must equal the order total, (\d+) fen$", "须等于订单金额"),
        (r"^already recorded for another payment$", "这个单号已登记过别的收款"),
        (r"^a SKU code is already used in this station$", "本站已有这个商家编码"),
        (r"^not a producer managed by the listing station$", "不是本站管理的生产者"),
        (r"^the producer is inactive$", "该生产者已停用"),
        (r"^unknown category code .*$", "没有这个类目"),
        (
            r"^needs at least one active SKU before it can go on sale$",
            "至少要有一个在售规格才能上架",
        ),
        (r"^the certificate is not valid yet$", "认定证书尚未生效"),
        (r"^the certificate has expired$", "认定证书已过期"),
        (
            r"^the last SKU on sale of an active product; delist the product first$",
            "这是在售商品的最后一个在售规格，请先下架商品",
        ),
        (r"^not over yet$", "这个月还没有结束"),
        (r"^closed already$", "这个月已经关账"),
        (r"^Invalid fields: .*$", "有几项需要修改，见各项下方的说明。"),
        (r"^Product \d+ is already active\.$", "商品已在售。"),
        (r"^Product \d+ is not on sale \(.*\)\.$", "商品不在售，无需下架。"),
        (r"^Order \S+ has no unshipped lines of yours\.$", "这个订单没有待本站发货的商品。"),
        (r"^Order \S+ is (\w+); only unpaid orders take a payment\.$", "订单已不是待付款状态。"),
        (r"^Order \S+ already has a payment in progress online\.$", "订单已有进行中的线上支付。"),
        (r"^The user who proposed a payout run cannot approve it\.$", "提出发放批次的人不能批准。"),
        (
            r"^The user who proposed a pledge's disbursement cannot approve it\.$",
            "提出直播承诺的人不能批准。",
        ),
        (r"^Payout run \d+ was cancelled\.$", "这个发放批次已取消。"),
        (r"^Pledge \d+ was disbursed already.*$", "这项承诺已经发放。"),
        (r"^Pledge \d+ is \w+: fund it first\.$", "这项承诺的资金尚未到位。"),
        (
            r"^\S+ is not over yet: a month is closed after its last day\.$",
            "这个月还没有结束，月末之后才能关账。",
        ),
        (r"^\S+ is closed already for .*$", "这个月已经关账（本区划或上级区划）。"),
    )
]


def chinese(reason: str) -> str:
    """The reason in Chinese when it is one we know, else as it was written."""
    for pattern, replacement in _REASONS:
        if pattern.match(reason):
            return pattern.sub(replacement, reason)
    return reason


def chinese_errors(errors: dict) -> dict:
    return {field: [chinese(reason) for reason in reasons] for field, reasons in errors.items()}
