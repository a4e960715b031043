"""What the console's browser tests share: the demo county served for real, talked to through
its API and driven in headless Chromium (Debian's ``chromium`` through Playwright's Python
package; no browser is downloaded), at a desk's and a phone's width, with each page checked by
axe-core (the ``axe-playwright-python`` package bundles it) and for sideways scrolling.

The fixtures (``browser``, ``demo``) are in ``tests/conftest.py``; a module using them is marked
``postgres``: browser tests run in the PostgreSQL suite.
"""

import json
import os
import tempfile
import urllib.request
import uuid
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

#: Where the screenshots go: the README's own (``docs/screenshots``) with UPDATE_SCREENSHOTS=1
#: (``make screenshots``), else a scratch folder, so a test run leaves the work tree as it was.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "marketplace-screenshots"
)
#: the narrowest phone the console is built for, and a desk
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
#: What axe checks: the WCAG 2.1 A and AA rules (labels, names, contrast, landmarks' basics).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
_axe = Axe()


def api(demo, method, path, body=None, token=None, headers=None):
    request = urllib.request.Request(
        demo.base_url + "/api/v1" + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            "Idempotency-Key": uuid.uuid4().hex,
            **(headers or {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def token_of(demo, username, password):
    return api(demo, "POST", "/auth/tokens", {"username": username, "password": password})["token"]


def sign_in(page, demo, username, password):
    page.goto(demo.base_url + "/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/console/login" not in url)


def open_page(browser, viewport, **options):
    """A new tab at ``viewport`` (PHONE or DESKTOP)."""
    return browser.new_page(viewport=viewport, **options)


def assert_fits(page):
    """The page does not scroll sideways at its width (a wide table may scroll inside its own
    box, never the page)."""
    width = page.viewport_size["width"]
    scrolled = page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"{page.url} is {scrolled}px wide at {width}px"


def assert_accessible(page):
    """No WCAG 2.1 A/AA violation axe-core finds on the page as it stands."""
    results = _axe.run(page, options=AXE_OPTIONS)
    violations = [
        f"{found['id']} ({found['impact']}): {found['help']} at "
        + "; ".join(" ".join(node["target"]) for node in found["nodes"][:5])
        for found in results.response["violations"]
    ]
    assert not violations, f"{page.url}:\n" + "\n".join(violations)


def check_page(page):
    """What every page a browser test visits must be: accessible, and no wider than its
    screen."""
    assert_fits(page)
    assert_accessible(page)


def screenshot(page, name: str, *, full_page: bool = True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
