"""Helpers for page tests: a TestClient on the real app, form scraping, TOTP codes."""

from __future__ import annotations

import re
import time

import pyotp
from fastapi.testclient import TestClient

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SEALED_INPUT = re.compile(r'name="enrolment" value="([^"]+)"')
SECRET_TEXT = re.compile(r'<code id="totp-secret" class="secret">([A-Z2-7 ]+)</code>')
RECOVERY_CODE = re.compile(r"<li><code>([a-z2-7-]{19})</code></li>")


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, email: str, password: str, next_url: str = "/account") -> str:
    """Posts the login form; returns the redirect location (asserts a redirect)."""
    form = client.get(f"/login?next={next_url}")
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": next_url,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def enrol_totp(client: TestClient, next_url: str = "/account") -> tuple[str, str]:
    """Completes the TOTP enrolment page; returns (secret, recovery-codes page html)."""
    page = client.get(f"/account/totp?next={next_url}")
    assert page.status_code == 200, page.text
    secret_match = SECRET_TEXT.search(page.text)
    sealed_match = SEALED_INPUT.search(page.text)
    assert secret_match and sealed_match
    secret = secret_match.group(1).replace(" ", "")
    response = client.post(
        "/account/totp",
        data={
            "code": pyotp.TOTP(secret).now(),
            "enrolment": sealed_match.group(1),
            "csrf_token": csrf_of(page.text),
            "next": next_url,
        },
    )
    assert response.status_code == 200, response.text
    return secret, response.text


def next_step_code(secret: str) -> str:
    """The code of the next time step: accepted (window +1) and never used by "now" codes."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30)
