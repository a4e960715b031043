"""Reading the order exports of outside platforms: what each layout's columns mean, and the
traps of the files as stations download them.

Files come as UTF-8 (with a BOM or not) or as GBK/GB18030; ids are prefixed with a tab, or
written ``="…"``, or prefixed with ``'`` so that spreadsheets keep them as text; amounts carry
``¥``/``￥`` or ``元``; ``-`` means empty; some header names keep trailing spaces. Every cell is
read as text, amounts become fen exactly (through Decimal, never a float), times are the
platform's local time (Asia/Shanghai).

Each layout turns a row into a ``PlatformRow`` or into problems naming the line and column.
Nothing here touches the database: ``importing.py`` does the rest. Rows are read one at a time,
so a file of any size is read in flat memory.
"""

import codecs
import csv
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from marketplace.clock import SHANGHAI
from marketplace.livestreams.models import Platform
from marketplace.numbers import MAX_FEN


class RowStatus(enum.StrEnum):
    """Where the platform says a (sub-)order is."""

    unpaid = "unpaid"
    paid = "paid"
    shipped = "shipped"
    completed = "completed"
    #: closed after payment: the money went back
    closed = "closed"


class RefundState(enum.StrEnum):
    none = "none"
    pending = "pending"
    refunded = "refunded"


@dataclass(frozen=True)
class Problem:
    line: int
    column: str | None
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class PlatformRow:
    """One (sub-)order line of a platform's export, in our terms."""

    line: int
    order_id: str
    line_id: str
    product_key: str
    title: str | None
    quantity: int
    unit_price_fen: int
    #: what the merchant gets for the line, after the discounts it bears
    paid_fen: int
    placed_at: datetime
    paid_at: datetime | None
    status: str
    refund_state: str
    #: the amount refunded so far when the export says it; None: only the state is known
    refunded_fen: int | None
    #: whether the platform says the sale was made in a livestream; None: it does not say
    live: bool | None
    host_account: str | None = None
    host_name: str | None = None
    #: the row's cells, to tell an exact duplicate from a row that contradicts another
    fingerprint: tuple = field(default=(), compare=False)


class FileProblem(Exception):
    """The file as a whole cannot be read (its encoding, its header)."""

    def __init__(self, reason: str, *, field: str = "file"):
        super().__init__(reason)
        self.reason, self.field = reason, field


# --- cells ------------------------------------------------------------------------------------


_SPREADSHEET_TEXT = re.compile(r'^="(.*)"$')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_MONEY = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def clean(cell: str | None) -> str | None:
    """A cell as text: the spreadsheet tricks removed, None when empty or ``-``."""
    if cell is None:
        return None
    text = cell.strip()
    quoted = _SPREADSHEET_TEXT.match(text)
    if quoted:
        text = quoted.group(1)
    if text.startswith("'"):
        text = text[1:]
    text = text.strip()
    return None if text in ("", "-") else text


def fen(text: str | None) -> int:
    """Yuan with at most two decimals, as fen exactly. ValueError says what is wrong."""
    if text is None:
        raise ValueError("missing")
    amount = text.replace("¥", "").replace("￥", "").replace("元", "").replace(",", "").strip()
    if not _MONEY.match(amount):
        raise ValueError(f"not an amount of yuan: {_shown(text)}")
    if len(amount.split(".")[0].lstrip("-")) > 12:
        raise ValueError(f"beyond any order: {_shown(text)}")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"not an amount of yuan: {_shown(text)}") from None
    if value < 0:
        raise ValueError(f"negative: {_shown(text)}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"more than two decimals: {_shown(text)}")
    result = int(value * 100)
    if result > MAX_FEN:
        raise ValueError(f"beyond any order: {_shown(text)}")
    return result


#: The years an export's times may fall in: anything else is a typing error, not a sale.
_YEARS = range(2000, 2100)


def local_time(text: str | None) -> datetime:
    if text is None:
        raise ValueError("missing")
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            moment = datetime.strptime(text, pattern).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
        if moment.year not in _YEARS:
            raise ValueError(f"not a year of sales: {_shown(text)}")
        return moment
    raise ValueError(f"not a date and time: {_shown(text)}")


def _shown(text: str, limit: int = 40) -> str:
    """A cell quoted in a problem, cut short: a problem names the cell, it does not copy it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def whole_number(text: str | None) -> int:
    if text is None or not text.isdigit():
        raise ValueError(f"not a whole number: {text!r}")
    value = int(text)
    if not 1 <= value <= 1_000_000:
        raise ValueError(f"out of range: {text}")
    return value


# --- files ------------------------------------------------------------------------------------


_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GBK/GB18030"}


def text_lines(stream, *, chunk: int = 1 << 16) -> Iterator[str]:
    """The stream's text, decoded as UTF-8 (BOM or not) or else GB18030, read incrementally.
    An encoding that fails later in the file is a FileProblem naming the line."""
    head = stream.read(chunk)
    encoding = None
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            # The head may end inside a character: a failure only in its last bytes is not one.
            codecs.getincrementaldecoder(candidate)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        encoding = candidate
        break
    if encoding is None:
        raise FileProblem("neither UTF-8 nor GBK/GB18030: export the file again as CSV")
    decoder = codecs.getincrementaldecoder(encoding)()
    pending, number, data = "", 0, head
    while True:
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            # A line feed is the same byte in both encodings: count them up to the fault.
            line = number + pending.count("\n") + data[: error.start].count(b"\n") + 1
            raise FileProblem(
                f"line {line}: not {_ENCODING_NAMES[encoding]} text; the file mixes encodings"
            ) from None
        pending += text
        *complete, pending = pending.split("\n")
        for line in complete:
            number += 1
            yield line + "\n"
        if not data:
            break
        data = stream.read(chunk)
    if pending:
        yield pending


def records(stream, required=(), *, field: str = "file") -> Iterator[tuple[int, dict]]:
    """(line number, {trimmed header: raw cell}) for each row after the header. A header
    without the ``required`` columns is a FileProblem naming them."""
    reader = csv.reader(text_lines(stream))
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem("the file is empty", field=field) from None
    except csv.Error as error:
        raise FileProblem(f"not a CSV file: {error}", field=field) from None
    names = [name.strip() for name in header]
    missing = [name for name in required if name not in names]
    if missing:
        raise FileProblem(
            f"the header lacks the column(s) {', '.join(missing)}: is this the right "
            "platform's export?",
            field=field,
        )
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileProblem(f"line {reader.line_num}: {error}", field=field) from None
        if not any(cell.strip() for cell in cells):
            continue
        yield reader.line_num, dict(zip(names, cells, strict=False))


# --- layouts ----------------------------------------------------------------------------------


class _Row:
    """Collects a row's values and problems; each getter names its column in a problem."""

    def __init__(self, line: int, cells: dict):
        self.line, self.cells, self.problems = line, cells, []

    def text(self, column: str, *, required: bool = True) -> str | None:
        if column not in self.cells:
            if required:
                self.problems.append(Problem(self.line, column, "column missing"))
            return None
        value = clean(self.cells[column])
        if value is None and required:
            self.problems.append(Problem(self.line, column, "empty"))
        if value is not None and _CONTROL.search(value):
            # NUL and the like are no part of an id or an amount, and no database stores NUL.
            self.problems.append(Problem(self.line, column, "holds control characters"))
            return None
        return value

    def parsed(self, column: str, parse, *, required: bool = True):
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as error:
            self.problems.append(Problem(self.line, column, str(error)))
            return None

    def fingerprint(self) -> tuple:
        return tuple(sorted((k, clean(v)) for k, v in self.cells.items()))


@dataclass(frozen=True)
class Layout:
    """How one platform's export reads: its columns and what their values mean."""

    platform: Platform
    order_id: str
    line_id: str | None
    product_key: str
    title: str | None
    quantity: str
    #: the unit price column; None when the export has only the line's total
    unit_price: str | None
    line_total: str | None
    paid: str
    placed_at: str
    paid_at: str
    status: str
    statuses: dict
    refund_state: str | None = None
    refund_states: dict = field(default_factory=dict)
    refunded: str | None = None
    live: str | None = None
    live_values: frozenset = frozenset()
    host_account: str | None = None
    host_name: str | None = None
    #: a note where the merchant writes a partial refund's amount (部分退款45元)
    refund_note: str | None = None
    #: when set, what the merchant gets is price × quantity less this column (the discount
    #: the merchant bears), and ``paid`` is only checked: the buyer's payment also nets the
    #: platform's and the host's subsidies, which the platform pays the merchant back, and
    #: adds the shipping fee, which is no sale of produce
    seller_discount: str | None = None

    def required_columns(self) -> list[str]:
        names = [
            self.order_id,
            self.line_id,
            self.product_key,
            self.quantity,
            self.unit_price or self.line_total,
            self.paid,
            self.placed_at,
            self.paid_at,
            self.status,
        ]
        return [name for name in dict.fromkeys(names) if name]

    def read(self, line: int, cells: dict) -> tuple[PlatformRow | None, list[Problem]]:
        row = _Row(line, cells)
        order_id = row.text(self.order_id)
        line_id = row.text(self.line_id) if self.line_id else order_id
        product_key = row.text(self.product_key)
        quantity = row.parsed(self.quantity, whole_number)
        paid = row.parsed(self.paid, fen)
        placed_at = row.parsed(self.placed_at, local_time)
        status_text = row.text(self.status)
        status = self.statuses.get(status_text)
        if status_text is not None and status is None:
            row.problems.append(Problem(line, self.status, f"unknown status {_shown(status_text)}"))
        # Unpaid, or closed before payment: no payment time, and nothing to record.
        paid_at = row.parsed(
            self.paid_at, local_time, required=status not in (RowStatus.unpaid, RowStatus.closed)
        )
        unit_price = self._unit_price(row, quantity)
        refund_state = RefundState.none
        if self.refund_state:
            state_text = row.text(self.refund_state, required=False)
            refund_state = self.refund_states.get(state_text, RefundState.none)
            if state_text is not None and state_text not in self.refund_states:
                row.problems.append(
                    Problem(line, self.refund_state, f"unknown refund state {_shown(state_text)}")
                )
        refunded = None
        if self.refunded and refund_state == RefundState.refunded:
            refunded = row.parsed(self.refunded, fen, required=False)
        if status == RowStatus.closed and refund_state == RefundState.none:
            refund_state = RefundState.refunded  # closed after payment: everything went back
        if refunded is None and refund_state == RefundState.refunded and self.refund_note:
            refunded = self._noted_refund(row, status)
        live = None
        if self.live:
            live = row.text(self.live, required=False) in self.live_values
        if self.seller_discount and not row.problems:
            discount = row.parsed(self.seller_discount, fen, required=False) or 0
            gross = unit_price * quantity
            if discount >= gross:
                row.problems.append(
                    Problem(line, self.seller_discount, "the discount takes the whole line")
                )
            paid = gross - discount
        if row.problems:
            return None, row.problems
        if quantity and unit_price is not None and paid > unit_price * quantity:
            return None, [Problem(line, self.paid, "more than the line's price times quantity")]
        if refunded is not None and refunded > paid:
            return None, [Problem(line, self.refunded, "refunds more than was paid")]
        return (
            PlatformRow(
                line=line,
                order_id=order_id,
                line_id=line_id,
                product_key=product_key,
                title=row.text(self.title, required=False) if self.title else None,
                quantity=quantity,
                unit_price_fen=unit_price,
                paid_fen=paid,
                placed_at=placed_at,
                paid_at=paid_at,
                status=status,
                refund_state=refund_state,
                refunded_fen=refunded,
                live=live,
                host_account=row.text(self.host_account, required=False)
                if self.host_account
                else None,
                host_name=row.text(self.host_name, required=False) if self.host_name else None,
                fingerprint=row.fingerprint(),
            ),
            [],
        )

    def _unit_price(self, row: _Row, quantity: int | None) -> int | None:
        if self.unit_price:
            return row.parsed(self.unit_price, fen)
        total = row.parsed(self.line_total, fen)
        if total is None or not quantity:
            return None
        if total % quantity:
            row.problems.append(
                Problem(row.line, self.line_total, f"does not divide into {quantity} units")
            )
            return None
        return total // quantity

    def _noted_refund(self, row: _Row, status: str) -> int | None:
        if status == RowStatus.closed:
            return None  # closed: the whole line
        note = row.text(self.refund_note, required=False) or ""
        found = re.search(r"退款\s*([0-9]+(?:\.[0-9]{1,2})?)\s*元", note)
        if found is None:
            row.problems.append(
                Problem(
                    row.line,
                    self.refund_note,
                    "refunded in part, but the export does not say how much",
                )
            )
            return None
        try:
            return fen(found.group(1))
        except ValueError as error:
            row.problems.append(Problem(row.line, self.refund_note, str(error)))
            return None


DOUYIN = Layout(
    platform=Platform.douyin,
    order_id="主订单编号",
    line_id="子订单编号",
    product_key="商品ID",
    title="选购商品",
    quantity="商品数量",
    unit_price="商品单价",
    line_total=None,
    paid="订单应付金额",
    placed_at="订单提交时间",
    paid_at="支付完成时间",
    status="订单状态",
    statuses={
        "待支付": RowStatus.unpaid,
        "待发货": RowStatus.paid,
        "已发货": RowStatus.shipped,
        "已完成": RowStatus.completed,
        "已关闭": RowStatus.closed,
    },
    refund_state="售后状态",
    refund_states={
        "退款成功": RefundState.refunded,
        "售后待处理": RefundState.pending,
        "退款中": RefundState.pending,
        "售后关闭": RefundState.none,
    },
    live="流量体裁",
    live_values=frozenset({"直播"}),
    host_account="达人ID",
    host_name="达人昵称",
    seller_discount="商家优惠",
)

KUAISHOU = Layout(
    platform=Platform.kuaishou,
    order_id="订单号",
    line_id=None,
    product_key="商品ID",
    title="商品名称",
    quantity="商品数量",
    unit_price="商品单价",
    line_total=None,
    paid="实付款",
    placed_at="订单创建时间",
    paid_at="订单支付时间",
    status="订单状态",
    statuses={
        "待付款": RowStatus.unpaid,
        "待发货": RowStatus.paid,
        "已发货": RowStatus.shipped,
        "交易成功": RowStatus.completed,
        "交易关闭": RowStatus.closed,
    },
    refund_state="退款状态",
    refund_states={"退款成功": RefundState.refunded, "退款中": RefundState.pending},
    refunded="退款金额",
    live="订单来源",
    live_values=frozenset({"直播"}),
    host_account="推广者ID",
    host_name="推广者昵称",
)

PINDUODUO = Layout(
    platform=Platform.pinduoduo,
    order_id="订单号",
    line_id=None,
    product_key="样式ID",
    title="商品",
    quantity="商品数量(件)",
    unit_price=None,
    line_total="商品总价(元)",
    paid="商家实收金额(元)",
    placed_at="订单成交时间",
    paid_at="支付时间",
    status="订单状态",
    statuses={
        "待支付": RowStatus.unpaid,
        "待发货": RowStatus.paid,
        "已发货，待收货": RowStatus.shipped,
        "已收货": RowStatus.completed,
        "已取消": RowStatus.closed,
    },
    refund_state="售后状态",
    refund_states={
        "无售后或售后取消": RefundState.none,
        "退款成功": RefundState.refunded,
        "退款中": RefundState.pending,
    },
    live="是否直播间成交",
    live_values=frozenset({"是"}),
    refund_note="商家备注",
)

#: Taobao's item report; its order report gives each order's payment (see ``taobao_rows``).
TAOBAO_ITEMS = Layout(
    platform=Platform.taobao,
    order_id="订单编号",
    line_id=None,
    product_key="商家编码",
    title="标题",
    quantity="购买数量",
    unit_price="价格",
    line_total=None,
    paid="价格",
    placed_at="订单创建时间",
    paid_at="订单付款时间",
    status="订单状态",
    statuses={
        "等待买家付款": RowStatus.unpaid,
        "买家已付款，等待卖家发货": RowStatus.paid,
        "卖家已发货，等待买家确认": RowStatus.shipped,
        "交易成功": RowStatus.completed,
        "交易关闭": RowStatus.closed,
    },
)

LAYOUTS = {layout.platform: layout for layout in (DOUYIN, KUAISHOU, PINDUODUO)}


def rows(layout: Layout, stream) -> Iterator[tuple[PlatformRow | None, list[Problem]]]:
    for line, cells in records(stream, layout.required_columns()):
        yield layout.read(line, cells)


def taobao_rows(orders_stream, items_stream):
    """Taobao's two reports joined: each item of the item report, with its order's creation
    and payment time from the order report. An item's line id is its order number and
    merchant code (the reports have no sub-order id); its paid amount its price × quantity."""
    orders: dict[str, dict] = {}
    for _line, cells in records(orders_stream, ("订单编号", "订单创建时间", "订单付款时间")):
        number = clean(cells.get("订单编号"))
        if number is None:
            continue
        orders[number] = {
            "订单创建时间": cells.get("订单创建时间", ""),
            "订单付款时间": cells.get("订单付款时间", ""),
        }
    from_orders = ("订单创建时间", "订单付款时间")
    required = [name for name in TAOBAO_ITEMS.required_columns() if name not in from_orders]
    for line, cells in records(items_stream, required, field="items"):
        number = clean(cells.get("订单编号"))
        order = orders.get(number)
        if order is None:
            yield None, [Problem(line, "订单编号", "not in the order report")]
            continue
        merged = {**cells, **order}
        quantity, price = clean(cells.get("购买数量")), clean(cells.get("价格"))
        try:
            merged["价格"] = str(Decimal(fen(price) * whole_number(quantity)) / 100)
            merged["单价"] = price
        except (ValueError, TypeError):
            pass  # the layout reports the bad cell
        row, problems = _TAOBAO_LINE.read(line, merged)
        if row is not None:
            key = f"{row.order_id}:{row.product_key}"
            row = PlatformRow(**{**row.__dict__, "line_id": key})
        yield row, problems


_TAOBAO_LINE = Layout(**{**TAOBAO_ITEMS.__dict__, "unit_price": "单价", "paid": "价格"})


def generic_layout(platform: Platform, columns: dict, values: dict) -> Layout:
    """A layout a station describes for an export we have no mapping for: which column holds
    each of our fields, and which of its values mean what."""
    return Layout(
        platform=platform,
        order_id=columns["order_id"],
        line_id=columns.get("line_id"),
        product_key=columns["product_key"],
        title=columns.get("title"),
        quantity=columns["quantity"],
        unit_price=columns.get("unit_price"),
        line_total=columns.get("line_total"),
        paid=columns["paid"],
        placed_at=columns["placed_at"],
        paid_at=columns["paid_at"],
        status=columns["status"],
        statuses={
            text: RowStatus(status)
            for status, texts in values.get("statuses", {}).items()
            for text in texts
        },
        refund_state=columns.get("refund_state"),
        refund_states={
            text: RefundState(state)
            for state, texts in values.get("refund_states", {}).items()
            for text in texts
        },
        refunded=columns.get("refunded"),
        live=columns.get("live"),
        live_values=frozenset(values.get("live", [])),
        host_account=columns.get("host_account"),
        host_name=columns.get("host_name"),
    )


def layout_for(platform: Platform) -> Layout | None:
    """The platform's own layout (Taobao's item report for Taobao), if we know it."""
    return TAOBAO_ITEMS if platform is Platform.taobao else LAYOUTS.get(platform)


def platform_rows(platform: Platform, stream, *, items=None, layout: Layout | None = None):
    """The rows of an export: the platform's own layout, or the station's ``layout``."""
    if layout is not None:
        return rows(layout, stream)
    if platform is Platform.taobao:
        if items is None:
            raise FileProblem("Taobao needs its item report too", field="items")
        return taobao_rows(stream, items)
    if platform not in LAYOUTS:
        raise FileProblem(
            f"no layout is known for {platform.value}: describe yours (layout)", field="layout"
        )
    return rows(LAYOUTS[platform], stream)
