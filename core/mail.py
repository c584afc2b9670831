"""Sending Rampart's own e-mail (verification codes, notices to data subjects), synchronously,
over SMTP or into a directory of .eml files for the embedded set-up.

Delivery is synchronous on purpose: a notice the regulation requires (an extension notice, a
refusal with the right to complain) is part of the change that sends it, so a mail server that is
down fails the change (503) instead of leaving it done and the subject uninformed. A message is
never put on the jobs queue: its body can hold a one-time code, and job arguments are stored.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import ServiceUnavailable, ValidationFailed
from core.settings import Settings, get_settings


class MailUnavailable(ServiceUnavailable):
    slug, title = "mail-unavailable", "The mail server could not take the message"


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str  # plain text; may hold a one-time code, so it is never logged


def send_mail(mail: Mail, *, settings: Settings | None = None) -> str:
    """Deliver ``mail`` now and return its Message-ID; raises MailUnavailable when it can't."""
    settings = settings or get_settings()
    if "\n" in mail.to or "\r" in mail.to or "@" not in mail.to:
        raise ValidationFailed("the recipient is not an e-mail address")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message.set_content(mail.body)
    url = settings.mail_url or (settings.data_dir / "mail").resolve().as_uri()
    parts = urlsplit(url)
    if parts.scheme == "file":
        _write_file(Path(unquote(parts.path)), message)
    elif parts.scheme in ("smtp", "smtps"):
        _send_smtp(parts.scheme, parts.hostname, parts.port, parts.username, message, settings)
    else:
        raise ValidationFailed("RAMPART_MAIL_URL must start with smtp://, smtps:// or file://")
    return str(message["Message-ID"])


def _write_file(directory: Path, message: EmailMessage) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / f"{uuid.uuid4().hex}.eml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(message.as_bytes())
    except OSError as exc:
        raise MailUnavailable(f"the mail directory is not writable ({exc.strerror})") from None


def _send_smtp(
    scheme: str,
    host: str | None,
    port: int | None,
    user: str | None,
    message: EmailMessage,
    settings: Settings,
) -> None:
    if not host:
        raise ValidationFailed("RAMPART_MAIL_URL names no host")
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if scheme == "smtps":
            client = smtplib.SMTP_SSL(
                host, port or 465, timeout=settings.mail_timeout, context=context
            )
        else:
            client = smtplib.SMTP(host, port or 25, timeout=settings.mail_timeout)
        with client:
            client.ehlo()
            if scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if user:
                password = (
                    settings.mail_password.get_secret_value() if settings.mail_password else ""
                )
                client.login(unquote(user), password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The reason names the failure class, never the message or the credentials.
        reason = type(exc).__name__
        raise MailUnavailable(f"the mail server refused or is unreachable ({reason})") from None
