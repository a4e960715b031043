"""The trend chart's bars: whole pixels, the largest month full height, any income visible."""

from datetime import date

from marketplace.console import charts
from marketplace.console.pages import percent_of_bp


def test_bars_are_whole_pixels_scaled_to_the_largest_month():
    series = [(date(2026, m, 1), fen) for m, fen in ((1, 1_000_000), (2, 1), (3, 0), (4, -500))]
    bars = charts.bars(series, selected=date(2026, 2, 1))
    usable = charts.HEIGHT - charts.BOTTOM - charts.TOP
    assert all(isinstance(v, int) for bar in bars for v in (bar.x, bar.y, bar.width, bar.height))
    assert [bar.height for bar in bars] == [usable, 1, 0, 0]
    assert all(bar.y + bar.height == charts.TOP + usable for bar in bars)
    assert [bar.selected for bar in bars] == [False, True, False, False]
    assert bars[0].x + bars[0].width < bars[1].x  # a gap between bars


def test_completion_shows_basis_points_as_a_percentage():
    assert [percent_of_bp(v) for v in (None, 0, 7, 1234, 10000)] == [
        "—",
        "0.00%",
        "0.07%",
        "12.34%",
        "100.00%",
    ]
