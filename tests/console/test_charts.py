"""The trend chart: whole pixels, a y-axis of round figures in yuan (万 when large), every bar's
value written beside it, a month of net refunds below the zero line, and the same figures in a
table beside the drawing."""

import re
from datetime import date

from marketplace.clock import shanghai_today
from marketplace.console import charts
from marketplace.console.pages import percent_of_bp


def _months(*values):
    return [(date(2026, month, 1), fen) for month, fen in enumerate(values, start=1)]


def test_bars_are_whole_pixels_up_from_the_zero_line_and_a_net_refund_below_it():
    bars = charts.bars(_months(1_000_000, 1, 0, -500_000), selected=date(2026, 2, 1))
    zero = charts.axis(bars).zero_y
    assert all(isinstance(v, int) for bar in bars for v in (bar.x, bar.y, bar.width, bar.height))
    income, tiny, nothing, refunds = bars
    assert income.y + income.height == zero and income.y == charts.TOP  # the largest: full
    assert tiny.height == 1 and tiny.y + 1 == zero  # any income shows
    assert nothing.height == 0
    assert refunds.y == zero and refunds.height > 0  # drawn below the line
    assert refunds.height * 2 == income.height  # to the same scale
    assert [bar.selected for bar in bars] == [False, True, False, False]
    assert bars[0].x + bars[0].width < bars[1].x  # a gap between bars
    assert bars[-1].x + bars[-1].width <= charts.WIDTH - charts.RIGHT


def test_the_axis_has_round_ticks_in_yuan_or_in_wan():
    small = charts.axis(charts.bars(_months(0, 420_000, 130_000)))  # at most 4,200 yuan
    assert [t.value_fen for t in small.ticks] == [0, 100_000, 200_000, 300_000, 400_000, 500_000]
    assert [t.label for t in small.ticks] == ["0", "1,000", "2,000", "3,000", "4,000", "5,000"]
    large = charts.axis(charts.bars(_months(12_345_600, -2_000_000)))  # 123,456 and -20,000
    assert [t.label for t in large.ticks] == ["-5万", "0", "5万", "10万", "15万"]
    assert [t.y for t in large.ticks] == sorted((t.y for t in large.ticks), reverse=True)
    zero_tick = next(t for t in large.ticks if t.value_fen == 0)
    assert zero_tick.y == large.zero_y
    halves = charts.axis(charts.bars(_months(1_800_000)))  # 18,000 yuan
    assert [t.label for t in halves.ticks] == ["0", "0.5万", "1万", "1.5万", "2万"]


def test_nothing_but_zeros_still_has_an_axis():
    axis = charts.axis(charts.bars(_months(0, 0)))
    assert [t.label for t in axis.ticks] == ["0", "1"]
    assert charts.bars([]) == []


def test_values_are_short_rounded_half_up_and_signed():
    cases = {
        0: "0",
        15: "0.15",
        50: "0.5",
        -7: "-0.07",
        149: "1",
        150: "2",
        852_650: "8,527",
        1_000_000: "1万",
        12_345_600: "12.3万",
        12_350_000: "12.4万",
        -2_050_000: "-2.1万",
        1_234_560_000: "1,235万",
    }
    assert {fen: charts.short_yuan(fen) for fen in cases} == cases


def test_labels_stand_above_income_and_below_a_net_refund():
    up, down = charts.bars(_months(500_000, -300_000))
    x, y, anchor = up.value_anchor
    assert (x, anchor) == (up.centre, "start") and y < up.y
    x, y, anchor = down.value_anchor
    assert anchor == "end" and y > down.y + down.height
    assert y + 4 * 11 <= charts.HEIGHT - charts.BOTTOM  # its label fits above the months


def test_months_are_short_and_january_names_its_year():
    bars = charts.bars([(date(2025, 12, 1), 1), (date(2026, 1, 1), 2)])
    assert [(b.label, b.year_label) for b in bars] == [("12月", ""), ("1月", "2026年")]


def test_completion_shows_basis_points_to_one_decimal_rounded_half_up():
    assert [percent_of_bp(v) for v in (None, 0, 4, 5, 1234, 1235, 10000, -1235)] == [
        "—",
        "0.0%",
        "0.0%",
        "0.1%",
        "12.3%",
        "12.4%",
        "100.0%",
        "-12.4%",
    ]


# --- the region page draws it ---------------------------------------------------------------


def test_the_region_page_writes_every_value_and_the_same_figures_in_a_table(
    client, sign_in, money, pay, shop, regions
):
    pay((shop.sku_500g, 2))
    period = f"{shanghai_today():%Y-%m}"
    sign_in(money.official)
    html = client.get(f"/console/regions/{regions.county.id}?period={period}").get_data(True)
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert 'aria-hidden="true"' in chart and 'role="img"' not in chart
    assert 'tabindex="-1"' in chart  # the table's links are the keyboard's way in
    drawn = re.findall(r'data-month="([\d-]+)" data-net-fen="(-?\d+)"', chart)
    values = re.findall(r'<text class="value"[^>]*>([^<]+)</text>', chart)
    assert len(drawn) == len(values) == 12 and int(drawn[-1][1]) > 0
    assert values == [charts.short_yuan(int(fen)) for _, fen in drawn]
    assert len(re.findall(r'<g class="tick"', chart)) >= 2
    table = html[html.index('<table id="trend-table">') :]
    table = table[: table.index("</table>")]
    assert "<caption>" in table
    listed = re.findall(r'data-net-fen="(-?\d+)">([^<]+)</td>', table)
    assert [fen for fen, _ in listed] == [fen for _, fen in drawn]
    net = int(drawn[-1][1])
    assert listed[-1][1] == f"{net // 100:,}.{net % 100:02d}"
    assert f"?period={period}" in table and 'aria-current="page"' in table


def test_a_quarters_months_are_all_highlighted(client, sign_in, money, pay, shop, regions):
    pay((shop.sku_500g, 1))
    today = shanghai_today()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    sign_in(money.official)
    html = client.get(f"/console/regions/{regions.county.id}?period={quarter}").get_data(True)
    chart = html[html.index("<svg") : html.index("</svg>")]
    highlighted = re.findall(r'<g class="bar selected" data-month="([\d-]+)"', chart)
    assert len(highlighted) == 3 and highlighted[-1] == f"{today:%Y-%m}"
    table = html[html.index('<table id="trend-table">') :]
    assert len(re.findall(r'<tr class="selected"', table[: table.index("</table>")])) == 3
