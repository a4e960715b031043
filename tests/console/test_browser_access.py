"""Every console page a station operator or an official reaches passes axe-core's WCAG 2.1 A/AA
rules and fits a 360 px phone: the sign-in page, an error page, each page the header's links
open, and the pages one level down (an order, a household). Failures are listed together, so
one run names every page to fix.

The sign-in and error pages also meet the keyboard's basics: the first Tab reaches a visible
"skip to the page" link, and focus is drawn.
"""

import pytest

from tests.console.browser import WIDTHS, check_page, open_page, screenshot, sign_in

pytestmark = pytest.mark.postgres

STATION = ("station_lanmeigou", "lanmeigou-demo-2024")
OFFICIAL = ("official_county", "county-demo-2024")


class Findings:
    """Every page's failures, gathered rather than stopping at the first."""

    def __init__(self, page):
        self.page = page
        self.failures: list[str] = []
        self.visited: list[str] = []

    def check(self):
        self.page.wait_for_load_state("load")
        self.visited.append(self.page.url)
        try:
            check_page(self.page)
        except AssertionError as failure:
            self.failures.append(str(failure))

    def visit(self, url: str):
        self.page.goto(url)
        self.check()


def _focus_is_drawn(page) -> bool:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }"
    )


def _keyboard_reaches_the_skip_link(page):
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip", f"{page.url}: the first Tab reached {focused!r}"
    assert page.locator("a.skip").is_visible() and _focus_is_drawn(page)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_the_sign_in_and_error_pages_are_accessible_and_keyboard_usable(browser, demo, width):
    page = open_page(browser, WIDTHS[width])
    findings = Findings(page)
    findings.visit(demo.base_url + "/console/login")
    _keyboard_reaches_the_skip_link(page)
    page.keyboard.press("Tab")  # from the page itself to its first field
    assert page.evaluate("document.activeElement.name") == "username" and _focus_is_drawn(page)
    if width == "phone":
        screenshot(page, "access-sign-in")

    findings.visit(demo.base_url + "/console/no/such/page")
    assert "找不到这个页面" in page.locator("h1").inner_text()
    _keyboard_reaches_the_skip_link(page)
    if width == "phone":
        screenshot(page, "access-not-found")

    # A wrong password: the reason is read out, and the page still passes.
    page.goto(demo.base_url + "/console/login")
    page.fill("input[name=username]", STATION[0])
    page.fill("input[name=password]", "not the password")
    page.click("form button[type=submit]")
    assert "用户名或密码错误" in page.locator("[role=alert]").inner_text()
    findings.check()
    page.close()
    assert findings.failures == [], "\n\n".join(findings.failures)


def _nav_links(page) -> list[str]:
    links = page.eval_on_selector_all("header nav a", "links => links.map(a => a.href)")
    assert len(links) >= 2, f"{page.url}: the header links to {links}"
    return links


def _first_link(page, selector: str) -> str | None:
    links = page.locator(selector)
    return links.first.get_attribute("href") if links.count() else None


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_page_a_station_reaches_is_accessible(browser, demo, width):
    page = open_page(browser, WIDTHS[width])
    findings = Findings(page)
    sign_in(page, demo, *STATION)
    findings.check()
    for link in _nav_links(page):
        findings.visit(link)
    findings.visit(demo.base_url + "/console/station/orders")
    order = _first_link(page, "main a[href*='/console/station/orders/']")
    assert order, "the demo station lists no order"
    findings.visit(demo.base_url + order)
    findings.visit(demo.base_url + "/console/station/products")
    product = _first_link(page, "main a[href*='/console/station/products/']:not([href$='/new'])")
    if product:
        findings.visit(demo.base_url + product)
    findings.visit(demo.base_url + "/console/station/no/such/page")
    page.close()
    assert findings.failures == [], "\n\n".join(findings.failures)


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_page_an_official_reaches_is_accessible(browser, demo, width):
    page = open_page(browser, WIDTHS[width])
    findings = Findings(page)
    sign_in(page, demo, *OFFICIAL)
    findings.check()
    county = page.url
    for link in _nav_links(page):
        findings.visit(link)
    # Down the tree from the county: a township, a village, a household.
    findings.visit(county)
    for _ in range(3):
        below = _first_link(page, "#rows a")
        if below is None:
            break
        findings.visit(demo.base_url + below if below.startswith("/") else below)
    assert "/console/households/" in page.url, f"no household reached from {county}"
    page.close()
    assert findings.failures == [], "\n\n".join(findings.failures)
