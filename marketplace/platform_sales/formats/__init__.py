"""The platforms whose export layouts we know, one module each, and the choice among them."""

from marketplace.livestreams.models import Platform
from marketplace.platform_sales.formats.douyin import DOUYIN
from marketplace.platform_sales.formats.kuaishou import KUAISHOU
from marketplace.platform_sales.formats.pinduoduo import PINDUODUO
from marketplace.platform_sales.formats.taobao import TAOBAO_ITEMS, taobao_rows
from marketplace.platform_sales.layouts import Layout, rows
from marketplace.platform_sales.rows import FileProblem
from marketplace.reasons import reason

LAYOUTS = {layout.platform: layout for layout in (DOUYIN, KUAISHOU, PINDUODUO)}

TAOBAO_ITEMS_MISSING = reason(
    "platform_file.taobao_items_missing", "Taobao needs its item report too"
)
NO_LAYOUT_KNOWN = reason(
    "platform_file.no_layout_known", "no layout is known for {platform}: describe yours (layout)"
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
            raise FileProblem(TAOBAO_ITEMS_MISSING(), field="items")
        return taobao_rows(stream, items)
    if platform not in LAYOUTS:
        raise FileProblem(NO_LAYOUT_KNOWN(platform=platform.value), field="layout")
    return rows(LAYOUTS[platform], stream)
