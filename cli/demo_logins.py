"""The demo shop's dashboard logins: the compliance officer and the auditor get a password and a
TOTP second factor (the demo document makes both roles require MFA), handed over in one file
only its owner can read, ``<data dir>/demo-logins.json``; never on stdout, never in a log. The
auditor also gets an engagement, without which the dashboard refuses them every page.

The file is written beside its final name before the transaction commits and renamed into
place after: a failed seed leaves neither accounts with unknown passwords nor a file naming
passwords that were never stored."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.settings import Settings

OFFICER = "chloe.nguyen@demo-shop.example"
AUDITOR = "grace.kim@demo-shop.example"
DEMO_LOGINS: tuple[tuple[str, str], ...] = ((OFFICER, "compliance_officer"), (AUDITOR, "auditor"))
LOGINS_FILE = "demo-logins.json"
ENGAGEMENT_DAYS = 30  # the auditor's engagement: the demo history, and a month from the seed
NOTE = (
    "Logins made by `rampart demo seed` to try the dashboard on this machine. Anyone who reads "
    "this file can log in as these people: reset them (`rampart user reset-password EMAIL "
    "--reset-mfa`) before the installation is reachable by others."
)


@dataclass(slots=True)
class DemoLogins:
    """What the seed did to the demo logins; ``staged`` is renamed to ``path`` on commit."""

    path: Path
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    staged: Path | None = None

    def publish(self) -> None:
        """After the commit: the staged file takes its final name (atomically)."""
        if self.staged is not None:
            os.replace(self.staged, self.path)
            self.staged = None

    def discard(self) -> None:
        """After a rollback: the staged file goes, the previous one (if any) stays."""
        if self.staged is not None:
            self.staged.unlink(missing_ok=True)
            self.staged = None


def logins_path(settings: Settings) -> Path:
    return settings.data_dir / LOGINS_FILE


def provision_logins(session: Session, settings: Settings) -> DemoLogins:
    """A password and a TOTP secret for each demo login that has neither (a login someone
    already set up is left alone); the new ones are staged for the logins file."""
    from core.errors import ValidationFailed
    from iam.accounts.password_rules import generate_password
    from iam.accounts.service import get_user_by_email, set_password
    from iam.mfa import totp

    result = DemoLogins(logins_path(settings))
    given = settings.demo_password.get_secret_value() if settings.demo_password else None
    entries: list[dict[str, Any]] = []
    for email, role in DEMO_LOGINS:
        user = get_user_by_email(session, email)
        if user is None:  # the document creates them: only a changed demo file gets here
            raise ValidationFailed(f"demo login {email} is missing from the demo document")
        if user.password_hash is not None or totp.has_totp(session, user.id):
            result.unchanged.append(f"login:{email}")
            continue
        password = given or generate_password()
        set_password(session, user, password)
        secret = totp.provision_totp(session, user, reason="demo seed login")
        entries.append(
            {
                "email": email,
                "role": role,
                # A password the operator chose is theirs (maybe used elsewhere): not written.
                "password": None if given else password,
                "password_from": "RAMPART_DEMO_PASSWORD" if given else "generated",
                "totp_secret": secret,
                "otpauth_uri": totp.provisioning_uri(user, secret),
            }
        )
        result.created.append(f"login:{email}")
    if entries:
        result.staged = _stage(result.path, settings, entries)
    return result


def _stage(path: Path, settings: Settings, entries: list[dict[str, Any]]) -> Path:
    """The new logins merged over those of an earlier file, written 0600 from the first byte
    (never readable by others, even briefly) beside ``path``."""
    kept: list[dict[str, Any]] = []
    if path.is_file():
        try:
            kept = list(json.loads(path.read_text(encoding="utf-8")).get("logins", []))
        except (ValueError, AttributeError):
            kept = []
    fresh = {entry["email"] for entry in entries}
    logins = [entry for entry in kept if entry.get("email") not in fresh] + entries
    document = {
        "note": NOTE,
        "login_url": settings.issuer.rstrip("/") + "/login?next=/dashboard",
        "logins": logins,
    }
    staged = path.with_name(f".{path.name}.new")
    staged.unlink(missing_ok=True)
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    return staged


def open_auditor_engagement(
    session: Session, first_day: date, today: date, actor: str
) -> tuple[list[str], list[str]]:
    """An engagement for the demo auditor over ``first_day`` (the demo history's) to a month
    after ``today``, both frameworks, expiring then: once (any earlier one is left alone).
    Returns (created, unchanged) labels."""
    from sqlalchemy import select

    from compliance.config import ComplianceConfig
    from compliance.dashboard.engagements import open_engagement
    from compliance.dashboard.models import AuditorEngagement
    from core.errors import ValidationFailed
    from iam.accounts.service import get_user_by_email

    user = get_user_by_email(session, AUDITOR)
    if user is None:
        raise ValidationFailed(f"demo login {AUDITOR} is missing from the demo document")
    label = f"engagement:{AUDITOR}"
    exists = session.scalar(
        select(AuditorEngagement.id).where(AuditorEngagement.auditor == str(user.id)).limit(1)
    )
    if exists is not None:
        return [], [label]
    library = ComplianceConfig.from_env().library()
    last_day = today + timedelta(days=ENGAGEMENT_DAYS)
    open_engagement(
        session,
        library,
        auditor=str(user.id),
        frameworks=sorted(library.frameworks),
        period_from=first_day,
        period_to=last_day,
        expires_at=datetime.combine(last_day, time.min, tzinfo=UTC),
        actor=actor,
    )
    return [label], []
