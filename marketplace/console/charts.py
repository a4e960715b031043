"""Charts drawn on the server as SVG: no script, nothing fetched, readable without JavaScript.

``bars`` lays out a bar chart (one bar per month) and ``axis`` its y-axis; the template
(``_chart.html``) draws what they return, and beside it the same figures as a table.

The drawing is sized for the narrowest phone: its viewBox is a 360-pixel screen, so at that
width its text is about the size it is written at, and on a desk it scales up (to a limit
the stylesheet sets). Every bar's value is written beside it, turned upright so twelve of
them fit; a month whose refunds exceeded its income is drawn below the zero line. All of it in
integer arithmetic on fen, as money is everywhere else.
"""

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 360, 250
#: room for the y-axis' tick labels on the left, and a little on the right
LEFT, RIGHT = 46, 6
#: room above the plot for the upright value of the tallest bar, and below it for the months
TOP, BOTTOM = 46, 30
#: room below a negative bar for its value, taken from the plot only when there is one
BELOW = 42
#: how many intervals the y-axis is divided into, at most
TICKS = 5
#: a figure from this many fen (10,000 yuan) on is written in 万 (ten thousands of yuan)
WAN_FEN = 1_000_000


@dataclass(frozen=True)
class Bar:
    """A bar in whole SVG pixels (of the viewBox); the money it stands for stays in fen."""

    month: date
    value_fen: int
    x: int
    y: int
    width: int
    height: int
    selected: bool

    @property
    def label(self) -> str:
        return f"{self.month.month}月"

    @property
    def year_label(self) -> str:
        """The year under January, so twelve months read as a calendar without a wide label."""
        return f"{self.month:%Y}年" if self.month.month == 1 else ""

    @property
    def centre(self) -> int:
        return self.x + self.width // 2

    @property
    def value_label(self) -> str:
        return short_yuan(self.value_fen)

    @property
    def value_anchor(self) -> tuple[int, int, str]:
        """Where the bar's upright value starts and which way it runs: up from a bar's top,
        down from a negative bar's bottom."""
        if self.value_fen < 0:
            return self.centre, self.y + self.height + 4, "end"
        return self.centre, self.y - 4, "start"


@dataclass(frozen=True)
class Tick:
    value_fen: int
    y: int
    label: str


@dataclass(frozen=True)
class Axis:
    ticks: list[Tick]
    #: where the zero line is drawn
    zero_y: int


@dataclass(frozen=True)
class _Scale:
    low_fen: int
    high_fen: int
    step_fen: int
    top: int
    bottom: int

    def y(self, value_fen: int) -> int:
        below_top = (self.high_fen - value_fen) * (self.bottom - self.top)
        return self.top + _round_half_up(below_top, self.high_fen - self.low_fen)


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _nice_step(low_fen: int, high_fen: int) -> int:
    """The smallest of 1, 2 or 5 times a power of ten (a yuan at least) whose multiples
    around ``low_fen`` .. ``high_fen`` make no more than TICKS intervals."""
    power = 100
    while True:
        for multiple in (1, 2, 5):
            step = multiple * power
            if -(-high_fen // step) - low_fen // step <= TICKS:
                return step
        power *= 10


def _scale(values: list[int]) -> _Scale:
    high, low = max(max(values), 0), min(min(values), 0)
    step = _nice_step(low, high)
    high_tick = -(-high // step) * step
    low_tick = (low // step) * step
    if high_tick == low_tick:  # nothing but zeros: an axis of one step
        high_tick = step
    bottom = HEIGHT - BOTTOM - (BELOW if low < 0 else 0)
    return _Scale(low_tick, high_tick, step, TOP, bottom)


def bars(series: list[tuple[date, int]], selected: date | None = None) -> list[Bar]:
    """Bars for ``(month, value in fen)``, from a zero line: up for income, down for a month
    whose refunds exceeded it. Any month that is not zero gets at least a pixel."""
    if not series:
        return []
    scale = _scale([value for _, value in series])
    zero = scale.y(0)
    slot = (WIDTH - LEFT - RIGHT) // len(series)
    gap = slot * 15 // 100
    laid_out = []
    for index, (month, value) in enumerate(series):
        end = scale.y(value)
        if value > 0:
            end = min(end, zero - 1)
        elif value < 0:
            end = max(end, zero + 1)
        laid_out.append(
            Bar(
                month=month,
                value_fen=value,
                x=LEFT + index * slot + gap,
                y=min(end, zero),
                width=slot - 2 * gap,
                height=abs(zero - end),
                selected=month == selected,
            )
        )
    return laid_out


def axis(drawn: list[Bar]) -> Axis:
    """The y-axis of ``drawn`` (what ``bars`` returned): round ticks, labelled in yuan, or in
    万 when the largest is ten thousand yuan or more."""
    scale = _scale([bar.value_fen for bar in drawn] or [0])
    in_wan = max(scale.high_fen, -scale.low_fen) >= WAN_FEN
    ticks = [
        Tick(value, scale.y(value), _tick_label(value, in_wan))
        for value in range(scale.low_fen, scale.high_fen + 1, scale.step_fen)
    ]
    return Axis(ticks=ticks, zero_y=scale.y(0))


def _tick_label(value_fen: int, in_wan: bool) -> str:
    if not in_wan or value_fen == 0:
        return f"{value_fen // 100:,}"
    return _decimal_text(value_fen, WAN_FEN, places=1) + "万"


def _decimal_text(value: int, unit: int, places: int) -> str:
    """``value / unit`` rounded half up (away from zero) to ``places``, trailing zeros
    dropped: 1_500_000 fen in 万 -> "1.5"."""
    sign = "-" if value < 0 else ""
    scaled = _round_half_up(abs(value) * 10**places, unit)
    whole, part = divmod(scaled, 10**places)
    decimals = f"{part:0{places}d}".rstrip("0")
    return f"{sign}{whole:,}" + (f".{decimals}" if decimals else "")


def short_yuan(value_fen: int) -> str:
    """A bar's value in few characters: whole yuan below ten thousand ("8,526"; under a yuan,
    its fen: "0.15"), above it in 万 to one decimal ("12.3万"), whole 万 from a million yuan
    ("123万"). The table beside the chart has every figure to the fen."""
    if abs(value_fen) < 100:  # under a yuan: its fen, so a month with income never reads 0
        return _decimal_text(value_fen, 100, places=2)
    if abs(value_fen) < WAN_FEN:
        return _decimal_text(value_fen, 100, places=0)
    places = 1 if abs(value_fen) < 100 * WAN_FEN else 0
    return _decimal_text(value_fen, WAN_FEN, places=places) + "万"
