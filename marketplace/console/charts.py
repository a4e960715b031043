"""Charts drawn on the server as SVG: no script, nothing fetched, readable without JavaScript.

``bars`` lays out a bar chart (one bar per month); the template draws what it returns.
"""

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
#: room for the axis labels under the bars and the figures above them
BOTTOM, TOP, LEFT = 28, 22, 8


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
        return f"{self.month.month}月" if self.month.month != 1 else f"{self.month:%Y}年1月"

    @property
    def centre(self) -> int:
        return self.x + self.width // 2


def bars(series: list[tuple[date, int]], selected: date | None = None) -> list[Bar]:
    """Bars for ``(month, value in fen)``; negative months (refunds exceeding sales) draw as
    empty. Heights are to the largest month, so the shape survives any scale."""
    if not series:
        return []
    top = max(max(value for _, value in series), 1)
    slot = (WIDTH - 2 * LEFT) // len(series)
    gap = slot * 15 // 100
    usable = HEIGHT - BOTTOM - TOP
    laid_out = []
    for index, (month, value) in enumerate(series):
        # Integer arithmetic on fen: a month with any income gets at least a pixel.
        height = -(-usable * max(value, 0) // top)
        laid_out.append(
            Bar(
                month=month,
                value_fen=value,
                x=LEFT + index * slot + gap,
                y=TOP + usable - height,
                width=slot - 2 * gap,
                height=height,
                selected=month == selected,
            )
        )
    return laid_out
