"""/docs loads nothing from another host (issue 12 item 11): its CSP names no host and allows no
inline script, every asset the page references is served by the app, and in Chromium the page
renders the operations with no CSP violation."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from core.settings import Settings
from server.app import create_app
from tests.policies.processes import rampart_process
from tests.server.conftest import prepare

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_REFERENCED = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)\"""")
EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
def client(http_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(http_settings)) as api:
        yield api


def test_docs_csp_names_no_other_host_and_no_inline_script(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert "http" not in csp and "*" not in csp
    assert not re.search(r"<script>|<script [^>]*>[^<]", page.text)  # no inline script


def test_every_referenced_asset_is_served_by_the_app(client: TestClient) -> None:
    referenced = _REFERENCED.findall(client.get("/docs").text)
    assert len(referenced) == 4  # icon, stylesheet, Swagger UI, its init script
    for url in referenced:
        assert url.startswith("/docs/assets/"), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        expected = EXPECTED_TYPES[os.path.splitext(url)[1]]
        assert answer.headers["content-type"].split(";")[0] == expected, url
        assert answer.content
    assert client.get("/docs/assets/..%2Fpyproject.toml").status_code == 404
    assert client.get("/docs/assets/swagger-ui.js.map").status_code == 404


def test_docs_render_in_chromium_without_csp_violation(http_settings: Settings) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is required (apt-get install chromium)")
    prepare(http_settings)
    env = {**os.environ, "RAMPART_SCHEDULER": "off", "RAMPART_LOG_LEVEL": "WARNING"}
    with rampart_process(env) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            outside: list[str] = []
            page.on(
                "request",
                lambda request: (
                    None if request.url.startswith(base) else outside.append(request.url)
                ),
            )
            page.goto(base + "/docs")
            try:
                page.locator(".opblock").first.wait_for(timeout=30000)
            except PlaywrightTimeout:
                pytest.fail(f"no operation rendered; console: {problems}")
            assert page.locator(".opblock").count() > 20  # the operations are listed
            assert problems == []  # a CSP violation is reported as a console error
            assert outside == []
        finally:
            browser.close()
