"""The dashboard in Debian Chromium (Playwright) against the real server on the seeded test
data: each page loads under its CSP without console errors, axe-core finds no serious or
critical violation, the pages are usable by keyboard alone (skip link, filters, drill-down),
the layout holds on a phone, and the overview matches its committed screenshot.

Each test runs on SQLite and on PostgreSQL (the database_url fixture under iam_settings): the
server subprocess inherits the test's RAMPART_DATABASE_URL, and logging in as the officer the
seed created proves it reads that database. Both compare with the one baseline: the overview
shows only seeded data as of a fixed day, so the same seed gives the same pixels on both."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from core.clock import utcnow
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from iam.accounts.service import create_user
from tests.compliance.dashboard.seed import AS_OF, LIBRARY, seed, seed_operations
from tests.iam.accounts.support import PASSWORD, iam_settings
from tests.iam.browser.test_login_flow import CHROMIUM_ARGS, server

__all__ = ["iam_settings", "server"]  # fixtures used by name

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
BASELINE = HERE / "baseline" / "overview.png"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Share of pixels allowed to differ (anti-aliasing), and by how much a pixel may differ.
MAX_CHANGED_SHARE, PIXEL_TOLERANCE = 0.01, 48
EMAIL = "officer@example.com"
# Elements reaching past the viewport, but not those inside a box that scrolls on its own.
WIDER_THAN_THE_SCREEN = """
[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => !(e.closest('.scroll') && e.closest('.scroll') !== e))
  .map(e => e.tagName + '.' + e.className).slice(0, 5)
"""
PAGES = (
    f"/dashboard?as_of={AS_OF}",
    f"/dashboard/controls?as_of={AS_OF}",
    f"/dashboard/controls/dash-pci:1.2?as_of={AS_OF}",
    f"/dashboard/findings?as_of={AS_OF}",
    f"/dashboard/requests?as_of={AS_OF}",
    f"/dashboard/reviews?as_of={AS_OF}",
    "/dashboard/ledger",
    "/dashboard/ledger/verification",
    "/dashboard/changes",
    "/dashboard/controls/dash-pci:1.2",  # today: with the waiver form
)


@pytest.fixture(scope="module", autouse=True)
def axe_installed() -> None:
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is required for axe-core (tests/e2e_dashboard/package.json)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)


@pytest.fixture(autouse=True)
def dashboard_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Set before the server fixture starts: the subprocess inherits it.
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(LIBRARY))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def seeded(iam_settings: Settings) -> None:
    with unit_of_work() as db:
        seed(db, get_key_provider())
        seed_operations(db)
        create_user(db, EMAIL, password=PASSWORD, roles=["compliance_officer"])


@pytest.fixture
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is required (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _logged_in(browser: Browser, base: str, **context: Any) -> Page:
    page = browser.new_context(viewport=VIEWPORT, **context).new_page()
    page.goto(base + f"/dashboard?as_of={AS_OF}")
    expect(page).to_have_url(base + f"/login?next=%2Fdashboard%3Fas_of%3D{AS_OF}")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + f"/dashboard?as_of={AS_OF}")
    return page


def _serious(page: Page) -> list[str]:
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(AXE))  # the axe context bypasses the CSP (it is injected)
    results = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.usefixtures("seeded")
def test_every_page_loads_under_its_csp_and_passes_axe(server: str, browser: Browser) -> None:
    strict = _logged_in(browser, server)
    errors: list[str] = []
    strict.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    for path in PAGES:
        response = strict.goto(server + path)
        assert response is not None and response.status == 200, path
        expect(strict.locator("main h1")).to_be_visible()
    assert errors == []  # no CSP violation, no failed asset
    audited = _logged_in(browser, server, bypass_csp=True)
    problems = {}
    for path in PAGES:
        audited.goto(server + path)
        found = _serious(audited)
        if found:
            problems[path] = found
    assert problems == {}


@pytest.mark.usefixtures("seeded")
def test_keyboard_alone_drills_from_the_red_number_to_the_evidence(
    server: str, browser: Browser
) -> None:
    page = _logged_in(browser, server)
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    red = page.locator("a.count.alert").first
    for _ in range(60):  # Tab through the page until the red number has the focus
        page.keyboard.press("Tab")
        if red.evaluate("el => el === document.activeElement"):
            break
    expect(red).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("tr[data-control]")).to_have_count(1)
    evidence = page.locator("a.evidence-link")
    evidence.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#verification")).to_contain_text("verified")
    expect(page.locator("pre.json")).to_contain_text("admins_without_mfa")
    # The date form by keyboard on the list: type a day, submit with Enter (the failing filter
    # stays; on that day nothing failed).
    page.go_back()
    page.locator("#as_of").focus()
    page.keyboard.type("03152026")
    page.keyboard.press("Enter")
    expect(page.locator("#as-of-banner time")).to_have_text("2026-03-15")
    expect(page.locator("tr[data-control]")).to_have_count(0)


def _tab_to(page: Page, selector: str, presses: int = 80) -> None:
    """Tab forward until ``selector`` has the focus (keyboard only)."""
    target = page.locator(selector)
    for _ in range(presses):
        if target.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(target).to_be_focused()


@pytest.mark.usefixtures("seeded")
def test_keyboard_alone_waives_a_control_and_revokes_the_waiver(
    server: str, browser: Browser
) -> None:
    page = _logged_in(browser, server)
    control = server + "/dashboard/controls/dash-pci:1.2"
    page.goto(control)
    status = page.locator(".facts .badge").first
    expect(status).to_have_text("failing")
    _tab_to(page, "#waiver-reason")
    page.keyboard.type("hardware keys rolled out by hand")
    page.keyboard.press("Tab")
    expect(page.locator("#waiver-approver")).to_be_focused()
    page.keyboard.type("ciso@example.com")
    page.keyboard.press("Tab")
    expect(page.locator("#waiver-expires")).to_be_focused()
    last_day = utcnow().date() + timedelta(days=30)
    page.keyboard.type(last_day.strftime("%m%d%Y"))  # the en-US date field: month day year
    expect(page.locator("#waiver-expires")).to_have_value(last_day.isoformat())
    _tab_to(page, "form.waive-form button", presses=5)  # past the field's date picker
    page.keyboard.press("Enter")
    expect(page).to_have_url(control)  # the 303 back to the control
    expect(status).to_have_text("waived")
    waiver = page.locator("section[aria-labelledby=waivers-heading]")
    expect(waiver).to_contain_text("hardware keys rolled out by hand")
    expect(waiver).to_contain_text(f"{last_day.isoformat()} 23:59 UTC")
    _tab_to(page, "form.revoke-form button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(control)
    expect(status).to_have_text("failing")
    expect(page.locator("section[aria-labelledby=waivers-heading]")).to_have_count(0)


@pytest.mark.usefixtures("seeded")
def test_the_pages_fit_a_phone(server: str, browser: Browser) -> None:
    page = _logged_in(browser, server)
    page.set_viewport_size(PHONE)
    for path in (*PAGES[:4], PAGES[-1]):
        page.goto(server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert width <= PHONE["width"], (path, width, wide)  # wide tables scroll in their box


@pytest.mark.usefixtures("seeded")
def test_the_overview_matches_its_baseline_screenshot(server: str, browser: Browser) -> None:
    page = _logged_in(browser, server)
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    if os.environ.get("RAMPART_UPDATE_SCREENSHOTS") == "1":
        BASELINE.parent.mkdir(exist_ok=True)
        shot.save(BASELINE)
    baseline = Image.open(BASELINE).convert("RGB")
    assert shot.size == baseline.size
    diff = ImageChops.difference(shot, baseline).convert("L")
    histogram = diff.histogram()  # 256 counts of the difference's grey levels
    changed = sum(histogram[PIXEL_TOLERANCE + 1 :])
    assert changed / (shot.width * shot.height) <= MAX_CHANGED_SHARE, changed
