"""Browser end-to-end fixtures: axe-core from npm (``npm ci`` once, from the hash-locked
package-lock.json, when node_modules is missing), the real server as a `rampart serve`
subprocess on the test's database, and Debian Chromium through Playwright."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.iam.browser.test_login_flow import CHROMIUM_ARGS

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def axe_script() -> Path:
    script = HERE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is required for the accessibility check (axe-core)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)
    return script


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[BrowserContext]:
    """A Chromium context that accepts downloads. ``bypass_csp``: axe-core is injected as a
    script element, which the pages' strict CSP (rightly) refuses; the CSP itself is checked by
    the page tests (tests/compliance/gdpr/portal)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is required (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(accept_downloads=True, bypass_csp=True)
        finally:
            browser.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()


def axe_violations(page: Page, script: Path) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (WCAG 2.x A and AA)."""
    # A click that submits a form may still be navigating: inject into the loaded page, not
    # into the document being replaced (its head is gone: "reading 'appendChild'" of null).
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(script))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa', 'best-practice']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
    )
    assert isinstance(result, list)
    return [v for v in result if v.get("impact") in ("serious", "critical")]
