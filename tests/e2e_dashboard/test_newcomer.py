"""Issue 16's "done when", as a newcomer lives it, with the real `rampart` executable on a fresh
data directory: `init`, `demo seed`, `serve`; in Debian Chromium the compliance officer logs in
(password and TOTP from the seed's logins file), sees each framework's posture and a trend that
moves, goes from a red number to failing evidence in exactly two clicks, and sees other numbers
as of last month; then `rampart login` (approved in that browser) and `rampart evidence export`
write a zip that `sha256sum -c` and `openssl pkeyutl -verify` accept. A member edited by one
byte (and the zip repacked, so its CRCs hold) fails `sha256sum -c`; one byte edited in
SHA256SUMS, or a forger who also rewrites the edited member's line there, fails `openssl`;
`rampart evidence verify` refuses every one of them.

Once per database backend (SQLite file the init creates, PostgreSQL database of the session)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.cli.login_support import RAMPART, PendingLogin
from tests.fixtures.openssl import openssl_verify
from tests.iam.browser.test_login_flow import CHROMIUM_ARGS, serve_rampart
from tests.interop.conftest import free_port

pytestmark = pytest.mark.slow

FRAMEWORKS = ("pci-dss-4.0.1", "gdpr")
OFFICER = "chloe.nguyen@demo-shop.example"
RED_NUMBER = re.compile(r"^\d+ failing controls of PCI DSS")


@dataclass
class Newcomer:
    """A fresh working directory (``./var`` becomes the data directory) and the environment a
    newcomer's shell has: nothing of Rampart's set but the port it serves on."""

    root: Path
    port: int
    env: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [RAMPART, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"rampart {' '.join(args)}: {result.stderr}"
        return result


@pytest.fixture
def newcomer(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Newcomer:
    # serve_rampart starts the server with this process's environment: set it here.
    for name in [n for n in os.environ if n.startswith("RAMPART_")]:
        monkeypatch.delenv(name)
    port = free_port()
    monkeypatch.setenv("RAMPART_ISSUER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("RAMPART_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # where `rampart login` keeps
    if not database_url.startswith("sqlite"):  # SQLite: the file `rampart init` creates
        monkeypatch.setenv("RAMPART_DATABASE_URL", database_url)
    return Newcomer(tmp_path, port, dict(os.environ))


@pytest.fixture
def seeded(newcomer: Newcomer) -> dict[str, Any]:
    """What the README's quick start runs before serving; returns the demo logins file."""
    newcomer.run("init", "--admin-email", "sec@demo-shop.example")
    seed = newcomer.run("demo", "seed")
    path = newcomer.root / "var" / "demo-logins.json"
    assert f"{Path('var') / 'demo-logins.json'}" in seed.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    logins: dict[str, Any] = json.loads(path.read_text())
    for login in logins["logins"]:  # what the seed says holds no password and no TOTP secret
        assert login["password"] not in seed.stdout + seed.stderr
        assert login["totp_secret"] not in seed.stdout + seed.stderr
    return logins


@pytest.fixture
def server(newcomer: Newcomer, seeded: dict[str, Any]) -> Iterator[str]:
    yield from serve_rampart(newcomer.root, newcomer.port)


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


def _log_in_as_officer(page: Page, base: str, logins: dict[str, Any]) -> None:
    officer = next(login for login in logins["logins"] if login["email"] == OFFICER)
    assert officer["role"] == "compliance_officer"
    page.goto(base + "/dashboard")
    expect(page).to_have_url(base + "/login?next=%2Fdashboard")
    page.get_by_label("Email").fill(OFFICER)
    page.get_by_label("Password").fill(officer["password"])
    page.get_by_role("button", name="Log in").click()
    # The demo document makes the officer's role require a second factor.
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(officer["totp_secret"]).now()
    )
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(base + "/dashboard")


def _section(page: Page, framework: str) -> Locator:
    return page.locator(f'section[aria-labelledby="fw-{framework}"]')


def _counts(page: Page) -> dict[str, dict[str, int]]:
    """Each framework's controls per status, as the overview's red/green numbers say."""
    shown: dict[str, dict[str, int]] = {}
    for framework in FRAMEWORKS:
        section = _section(page, framework)
        numbers = section.locator("table.counts a[data-status]")
        shown[framework] = {
            str(link.get_attribute("data-status")): int(str(link.text_content()).strip().split()[0])
            for link in numbers.all()
        }
    return shown


def _trend(page: Page, framework: str) -> list[float]:
    """The weekly share passing, oldest first, from the trend's table (inside a <details>)."""
    section = _section(page, framework)
    rows = section.locator("table.trend-table tbody tr")
    return [float(str(row.locator("td").first.text_content())) for row in rows.all()][::-1]


def test_a_newcomer_seeds_logs_in_drills_down_travels_back_and_exports(
    newcomer: Newcomer, seeded: dict[str, Any], server: str, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _log_in_as_officer(page, server, seeded)

    # A meaningful posture per framework: some controls pass, some fail (the planted
    # weaknesses), and a trend that moves over the demo history.
    today = _counts(page)
    for framework in FRAMEWORKS:
        assert today[framework]["pass"] > 0 and today[framework]["failing"] > 0, today
        trend = _trend(page, framework)
        assert len(trend) == 53
        assert len(set(trend[-13:])) >= 2, trend  # the weeks of the demo history differ
    pci = _trend(page, "pci-dss-4.0.1")
    assert 0 < pci[-1] < 100 and pci[-13] < max(pci[-12:]), pci  # fixes raised the share

    # From a red number to the failing evidence: exactly two clicks.
    page.get_by_role("link", name=RED_NUMBER).click()
    expect(page).to_have_url(re.compile(r"/dashboard/controls\?.*status=failing"))
    failing_now = page.locator("tr[data-control]").count()
    assert failing_now == today["pci-dss-4.0.1"]["failing"]
    page.locator("a.evidence-link").first.click()
    expect(page).to_have_url(re.compile(r"/dashboard/evidence/[0-9a-f-]{36}"))
    expect(page.locator(".facts .badge").first).to_have_text("fail")
    expect(page.locator("#verification")).to_contain_text("verified")
    record = json.loads(str(page.locator("pre.json").text_content()))
    assert record["status"] == "fail"
    assert record["collector"].startswith("rampart-engine@")  # observed now, not demo history

    # The same pages as of last month show other numbers, rebuilt from the evidence then.
    month_ago = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    page.goto(server + f"/dashboard?as_of={month_ago}")
    expect(page.locator("#as-of-banner time")).to_have_text(month_ago)
    then = _counts(page)
    assert then != today, (then, today)
    page.get_by_role("link", name=RED_NUMBER).click()
    expect(page).to_have_url(re.compile(rf"as_of={month_ago}"))
    assert page.locator("tr[data-control]").count() == then["pci-dss-4.0.1"]["failing"]
    assert then["pci-dss-4.0.1"]["failing"] != failing_now

    # The CLI as the officer: `rampart login`, approved on /device in the officer's browser.
    pending = PendingLogin(newcomer.env)
    page.goto(server + f"/device?user_code={pending.user_code}")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#device-done")).to_be_visible()
    code, printed, err = pending.finish()
    assert code == 0, (printed, err)
    assert OFFICER in printed

    first = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    end = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    archive = tmp_path / "pci.zip"
    newcomer.run(
        "evidence", "export", "--framework", "pci-dss-4.0.1",
        "--from", first, "--to", end, "--output", str(archive),
    )  # fmt: skip
    _verify_with_standard_tools(archive, tmp_path, seeded)
    assert newcomer.run("evidence", "verify", str(archive)).returncode == 0

    # Tampering: one byte of a member; one byte of SHA256SUMS; a member and its line rewritten.
    member = _tampered(archive, tmp_path / "member.zip", "controls.csv")
    sums = _tampered(archive, tmp_path / "sums.zip", "SHA256SUMS")
    forged = _tampered(archive, tmp_path / "forged.zip", "controls.csv", fix_sums=True)
    assert _sha256sum_check(_unzipped(member, tmp_path / "m")).returncode != 0
    assert (
        openssl_verify(_unzipped(sums, tmp_path / "s"), "SHA256SUMS", "SHA256SUMS.sig").returncode
        != 0
    )
    forged_dir = _unzipped(forged, tmp_path / "f")
    assert _sha256sum_check(forged_dir).returncode == 0  # the sums agree with the forged file
    assert openssl_verify(forged_dir, "SHA256SUMS", "SHA256SUMS.sig").returncode != 0
    for bad in (member, sums, forged):
        refused = newcomer.run("evidence", "verify", str(bad), check=False)
        assert refused.returncode != 0, bad.name
        assert "problem:" in refused.stderr, refused.stderr

    # Nothing secret of the demo logins reached the server's log.
    log = (newcomer.root / "server.log").read_text(errors="replace")
    for login in seeded["logins"]:
        assert login["password"] not in log and login["totp_secret"] not in log


def _unzipped(archive: Path, directory: Path) -> Path:
    directory.mkdir()
    subprocess.run(["unzip", "-q", str(archive), "-d", str(directory)], check=True, timeout=60)
    return directory


def _sha256sum_check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _verify_with_standard_tools(archive: Path, tmp_path: Path, logins: dict[str, Any]) -> None:
    directory = _unzipped(archive, tmp_path / "export")
    summed = _sha256sum_check(directory)
    assert summed.returncode == 0, summed.stdout + summed.stderr
    assert "controls.csv: OK" in summed.stdout and "evidence/records.json: OK" in summed.stdout
    signed = openssl_verify(directory, "SHA256SUMS", "SHA256SUMS.sig")
    assert signed.returncode == 0 and "Signature Verified Successfully" in signed.stdout
    records = json.loads((directory / "evidence" / "records.json").read_text())
    collectors = {record["collector"] for record in records}
    assert "demo-history" in collectors and any(c.startswith("rampart-engine@") for c in collectors)
    history = [r for r in records if r["collector"] == "demo-history"]
    assert all("demo history" in r["detail"] for r in history)  # labelled, every one
    ledger = (directory / "audit" / "ledger.jsonl").read_text()
    for login in logins["logins"]:
        assert login["password"] not in ledger and login["totp_secret"] not in ledger


def _tampered(source: Path, target: Path, name: str, *, fix_sums: bool = False) -> Path:
    """``source`` repacked with one byte of member ``name`` changed (its CRC recomputed, so
    only the export's own digests and signature can tell); ``fix_sums`` also rewrites the
    member's line of SHA256SUMS, as a forger would."""
    with zipfile.ZipFile(source) as original:
        members = {info.filename: original.read(info) for info in original.infolist()}
    content = bytearray(members[name])
    position = 0 if name == "SHA256SUMS" else len(content) // 2
    content[position] = ord("0") if content[position] != ord("0") else ord("1")
    members[name] = bytes(content)
    if fix_sums:
        digest = hashlib.sha256(members[name]).hexdigest()
        lines = members["SHA256SUMS"].decode().splitlines()
        rewritten = [f"{digest}  {name}" if line.endswith(f"  {name}") else line for line in lines]
        assert rewritten != lines
        members["SHA256SUMS"] = ("\n".join(rewritten) + "\n").encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as repacked:
        for member, data in members.items():
            repacked.writestr(member, data)
    return target
