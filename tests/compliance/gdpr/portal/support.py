"""Helpers for the portal page tests: the real app and guard, forms scraped from the pages, codes
read from the .eml files core.mail writes under <data_dir>/mail/."""

from __future__ import annotations

import email
import re
from pathlib import Path

from fastapi.testclient import TestClient

from core.settings import get_settings

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE_LINE = re.compile(r"Your code is (\d{8})")


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def mail_dir() -> Path:
    return get_settings().data_dir / "mail"


def mails_to(address: str) -> list[str]:
    """Bodies of the messages written to ``address``, oldest first."""
    directory = mail_dir()
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            part = message.get_payload(decode=True)
            assert isinstance(part, bytes)
            found.append(part.decode())
    return found


def latest_code(address: str) -> str:
    bodies = mails_to(address)
    assert bodies, f"no mail to {address}"
    match = CODE_LINE.search(bodies[-1])
    assert match, "the mail holds no code"
    return match.group(1)


def ask_code(client: TestClient, address: str) -> str:
    """Posts the e-mail form; returns the code page's html."""
    form = client.get("/privacy")
    assert form.status_code == 200, form.text
    response = client.post(
        "/privacy/sign-in/email",
        data={"email": address, "csrf_token": csrf_of(form.text), "next": ""},
    )
    assert response.status_code == 200, response.text
    return str(response.text)


def enter_code(client: TestClient, address: str, code: str, page: str) -> int:
    response = client.post(
        "/privacy/sign-in/code",
        data={"email": address, "code": code, "csrf_token": csrf_of(page), "next": ""},
        follow_redirects=False,
    )
    return int(response.status_code)


def sign_in_by_email(client: TestClient, address: str) -> None:
    page = ask_code(client, address)
    assert enter_code(client, address, latest_code(address), page) == 303
