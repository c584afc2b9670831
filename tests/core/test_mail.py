"""Rampart's e-mail: into a directory for the embedded set-up, over SMTP to a real server."""

from __future__ import annotations

import email
import socket
import stat
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.mail import Mail, MailUnavailable, send_mail
from core.settings import Settings


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd's start-up check dials the port it was given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_the_embedded_default_writes_one_private_eml_file_per_message(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mail_from="privacy@shop.test")
    message_id = send_mail(Mail("ada@example.com", "Your code", "Code: 123456"), settings=settings)
    [written] = list((tmp_path / "mail").glob("*.eml"))
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "mail").stat().st_mode) == 0o700
    parsed = email.message_from_bytes(written.read_bytes())
    assert parsed["To"] == "ada@example.com"
    assert parsed["From"] == "privacy@shop.test"
    assert parsed["Message-ID"] == message_id
    assert "Code: 123456" in parsed.get_payload(decode=True).decode()  # type: ignore[union-attr]


def test_smtp_delivers_to_a_real_server(smtp_server: tuple[_Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp_server
    settings = Settings(data_dir=tmp_path, mail_url=f"smtp://127.0.0.1:{port}")
    send_mail(
        Mail("ada@example.com", "Extension of your request", "One more month."), settings=settings
    )
    [received] = inbox.messages
    assert received["Subject"] == "Extension of your request"
    assert not (tmp_path / "mail").exists()


def test_an_unreachable_server_is_a_503_that_names_no_message(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mail_url="smtp://127.0.0.1:9")
    with pytest.raises(MailUnavailable) as caught:
        send_mail(Mail("ada@example.com", "Your code", "Code: 654321"), settings=settings)
    assert caught.value.status == 503
    assert "654321" not in str(caught.value.to_problem())
    assert "ada@example.com" not in str(caught.value.to_problem())


@pytest.mark.parametrize("recipient", ["not-an-address", "ada@example.com\r\nBcc: eve@example.com"])
def test_a_recipient_that_is_no_address_or_injects_headers_is_refused(
    recipient: str, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="not an e-mail address"):
        send_mail(Mail(recipient, "x", "y"), settings=Settings(data_dir=tmp_path))
    assert not (tmp_path / "mail").exists()


def test_an_unknown_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="RAMPART_MAIL_URL"):
        send_mail(
            Mail("ada@example.com", "x", "y"),
            settings=Settings(data_dir=tmp_path, mail_url="http://x"),
        )
