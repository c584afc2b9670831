"""The real server in a subprocess, driven by Debian Chromium through Playwright: log in as an
admin (role requires MFA), enrol TOTP, log out, log in again with the second factor."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from core.database import unit_of_work
from core.settings import Settings
from iam.accounts.service import create_user
from tests.iam.accounts.support import PASSWORD, iam_settings  # noqa: F401 - shared fixture
from tests.interop.conftest import free_port

RAMPART = str(Path(sys.executable).with_name("rampart"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def serve_rampart(tmp_path: Path, port: int | None = None) -> Iterator[str]:
    """`rampart serve` on ``port`` (a free one by default) with this test's environment
    (database, data dir); yields its base URL once /healthz answers. The browser tests' one way
    to start the real server."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RAMPART_ISSUER": base, "RAMPART_LOG_LEVEL": "WARNING"}
    log_path = tmp_path / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [RAMPART, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("server did not start: " + log_path.read_text())
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def server(iam_settings: Settings, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    yield from serve_rampart(tmp_path)


@pytest.fixture
def page() -> Iterator[Page]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is required (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _log_in(page: Page, base: str) -> None:
    page.goto(base + "/login?next=/account")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_login_enrol_totp_logout_and_login_with_the_second_factor(
    server: str,
    page: Page,
    iam_settings: Settings,  # noqa: F811
) -> None:
    with unit_of_work() as db:
        create_user(db, "root@example.com", password=PASSWORD, roles=["admin"])

    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    # A wrong password first: the page says so, in an alert.
    page.goto(server + "/login?next=/account")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill("not the password 1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password")

    # The admin role requires MFA: the login continues on the enrolment page.
    _log_in(page, server)
    expect(page).to_have_url(server + "/account/totp?next=%2Faccount")
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Enter the 6-digit code").fill(totp.now())
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page).to_have_url(server + "/account")
    expect(page.locator("#totp-status")).to_have_text("Set up.")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#logged-out")).to_be_visible()
    page.goto(server + "/account")
    expect(page).to_have_url(server + "/login?next=%2Faccount")

    # Next login: the second factor is demanded before the account page.
    _log_in(page, server)
    expect(page).to_have_url(server + "/login/mfa?next=%2Faccount")
    # The enrolment spent the current step; the next step's code is inside the ±1 window.
    page.get_by_label("Code from your authenticator app").fill(totp.at(int(time.time()) + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(server + "/account")
    expect(page.locator("#account-email")).to_have_text("root@example.com")
    expect(page.get_by_text("with two factors")).to_be_visible()
    # No inline script or style was blocked by the CSP along the way.
    assert not [e for e in console_errors if "Content Security Policy" in e]
