"""Helpers of the `rampart login` tests: the real CLI as a subprocess in its own config
directory, and a person approving its code on the server's /device page (httpx as browser)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import httpx

from tests.iam.pages.support import csrf_of, enrol_totp, login

RAMPART = str(Path(sys.executable).with_name("rampart"))
PASSWORD = "correct horse 42 battery"
USER_CODE_LINE = re.compile(r"enter the code ([A-Z]{4}-[A-Z]{4})")


def cli_env(config_dir: Path, server: str | None = None) -> dict[str, str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_dir), "RAMPART_LOG_LEVEL": "WARNING"}
    if server:
        env["RAMPART_SERVER_URL"] = server
    return env


def rampart(
    env: dict[str, str], *args: str, stdin: str = "", timeout: int = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAMPART, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class PendingLogin:
    """`rampart login` running, its code read from what it printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [RAMPART, "login"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.printed: list[str] = []
        for line in self.process.stdout:
            self.printed.append(line)
            match = USER_CODE_LINE.search(line)
            if match:
                self.user_code = match.group(1)
                break
        else:
            raise AssertionError(f"no user code printed: {self.printed} {self.stderr()}")

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.stderr else ""

    def finish(self, timeout: int = 60) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, "".join(self.printed) + out, err


def browser(base: str, email: str, *, enrol: bool = False) -> httpx.Client:
    """A logged-in browser (enrolling TOTP first when the account's role demands it)."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    as_test_client = cast(Any, client)  # the page helpers only use httpx.Client's API
    login(as_test_client, email, PASSWORD, next_url="/account")
    if enrol:
        enrol_totp(as_test_client)
    return client


def decide(client: httpx.Client, user_code: str, decision: str) -> httpx.Response:
    form = client.get("/device", params={"user_code": user_code})
    assert form.status_code == 200, form.text
    confirm = client.post(
        "/device", data={"user_code": user_code, "csrf_token": csrf_of(form.text)}
    )
    if confirm.status_code != 200 or 'id="approve"' not in confirm.text:
        return confirm
    return client.post(
        "/device",
        data={"user_code": user_code, "csrf_token": csrf_of(confirm.text), "decision": decision},
    )
