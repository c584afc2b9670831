"""Consent (GDPR Art. 7): purposes are fideslang data uses; decisions are append-only rows, the
latest per subject and purpose wins, never decided = not granted. Flushes, never commits; each
decision writes ``consent.granted`` / ``consent.withdrawn`` in the same transaction (details hold
the purpose, source and notice version, never personal data beyond the subject id)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.gdpr.consent_models import ConsentPurpose, ConsentRecord
from core.audit.service import record_event
from core.clock import utcnow
from core.errors import NotFound, RampartError

__all__ = [
    "DEFAULT_PURPOSES",
    "ConsentRecord",
    "ConsentState",
    "Purpose",
    "consent_purposes",
    "consents_of",
    "grant_consent",
    "has_consent",
    "history_of",
    "subjects_of_purpose",
    "upsert_purpose",
    "withdraw_consent",
]


class UnknownPurpose(NotFound):
    slug, title = "consent-unknown-purpose", "Unknown consent purpose"


class NotADataUse(RampartError):
    status, slug, title = 422, "consent-not-a-data-use", "Not a fideslang data use"


class NotADataCategory(RampartError):
    status, slug, title = 422, "consent-not-a-data-category", "Not a fideslang data category"


class NoticeVersionReused(RampartError):
    status, slug, title = 409, "consent-notice-version-reused", "Notice changed, version kept"


@dataclass(frozen=True, slots=True)
class Purpose:
    key: str
    name: str
    description: str
    categories: tuple[str, ...]
    notice_version: str


@dataclass(frozen=True, slots=True)
class ConsentState:
    purpose: str
    granted: bool
    changed_at: datetime | None
    notice_version: str | None
    source: str | None


ESSENTIAL_USE = "essential"
# Seeded when no purpose is configured (`rampart init`): (data use, fideslang data categories).
DEFAULT_PURPOSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("personalize", ("user.behavior.browsing_history", "user.behavior.purchase_history")),
    ("marketing.advertising", ("user.contact.email", "user.behavior")),
    ("analytics", ("user.behavior", "user.device")),
)


def check_data_categories(categories: Sequence[str]) -> None:
    """NotADataCategory unless every key is a data category of the fideslang default taxonomy."""
    from compliance.checks.gdpr import data_categories

    unknown = sorted(set(categories) - data_categories())
    if unknown:
        raise NotADataCategory(
            "not data categories of the fideslang default taxonomy: " + ", ".join(unknown)
        )


def data_use(key: str) -> tuple[str, str]:
    """The fideslang default taxonomy's name and description of ``key``; NotADataUse otherwise."""
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    for use in DEFAULT_TAXONOMY.data_use:
        if use.fides_key == key:
            return use.name or key, use.description or ""
    raise NotADataUse(f"{key!r} is not a data use of the fideslang default taxonomy")


def purpose_of_row(row: ConsentPurpose) -> Purpose:
    return Purpose(
        key=row.key,
        name=row.name,
        description=row.description,
        categories=tuple(json.loads(row.categories)),
        notice_version=row.notice_version,
    )


def upsert_purpose(
    session: Session,
    *,
    key: str,
    categories: Sequence[str],
    notice: str | None = None,
    description: str | None = None,
    name: str | None = None,
    notice_version: str | None = None,
    actor: str,
) -> Purpose:
    """Declare a purpose; a changed notice bumps its version (decisions keep the version shown),
    or takes ``notice_version`` when one is given: a changed notice under the version already
    stored is refused, as decisions made under that version would then name another text."""
    default_name, default_description = data_use(key)
    check_data_categories(categories)
    row = session.get(ConsentPurpose, key)
    text = notice if notice is not None else (description or default_description)
    if row is None:
        row = ConsentPurpose(
            key=key,
            name=name or default_name,
            description=description or default_description,
            categories=json.dumps(sorted(categories)),
            notice=text,
            notice_version=notice_version or "1",
        )
        session.add(row)
    else:
        if row.notice != text:
            if notice_version is not None and notice_version == row.notice_version:
                raise NoticeVersionReused(
                    f"the notice of {key!r} changed: give it a new notice_version"
                )
            row.notice = text
            row.notice_version = notice_version or _next_version(row.notice_version)
        elif notice_version is not None:
            row.notice_version = notice_version
        row.name = name or row.name
        row.description = description or default_description
        row.categories = json.dumps(sorted(categories))
        row.updated_at = utcnow()
    session.flush()
    record_event(
        session,
        event_type="consent.purpose_configured",
        resource=f"consent/purposes/{key}",
        details={"notice_version": row.notice_version},
        actor=actor,
    )
    return purpose_of_row(row)


def _next_version(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}.1"


def seed_default_purposes(session: Session, *, actor: str) -> None:
    if session.scalar(select(func.count()).select_from(ConsentPurpose)):
        return
    for key, categories in DEFAULT_PURPOSES:
        upsert_purpose(session, key=key, categories=categories, actor=actor)


def consent_purposes(session: Session) -> Sequence[Purpose]:
    rows = session.scalars(select(ConsentPurpose).order_by(ConsentPurpose.key))
    return [purpose_of_row(row) for row in rows]


def _decide(
    session: Session,
    *,
    subject: str,
    purpose: str,
    granted: bool,
    source: str,
    notice_version: str,
    actor: str,
) -> ConsentRecord:
    if session.get(ConsentPurpose, purpose) is None:
        raise UnknownPurpose(f"no consent purpose {purpose!r}")
    record = ConsentRecord(
        subject=subject,
        purpose=purpose,
        granted=granted,
        decided_at=utcnow(),
        source=source,
        notice_version=notice_version,
        actor=actor,
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        event_type="consent.granted" if granted else "consent.withdrawn",
        resource=f"consent/subjects/{subject}",
        details={
            "subject": subject,
            "purpose": purpose,
            "source": source,
            "notice_version": notice_version,
        },
        actor=actor,
    )
    return record


def grant_consent(
    session: Session, *, subject: str, purpose: str, source: str, notice_version: str, actor: str
) -> ConsentRecord:
    return _decide(
        session,
        subject=subject,
        purpose=purpose,
        granted=True,
        source=source,
        notice_version=notice_version,
        actor=actor,
    )


def withdraw_consent(
    session: Session, *, subject: str, purpose: str, source: str, notice_version: str, actor: str
) -> ConsentRecord:
    return _decide(
        session,
        subject=subject,
        purpose=purpose,
        granted=False,
        source=source,
        notice_version=notice_version,
        actor=actor,
    )


def _latest(session: Session, subject: str, purpose: str) -> ConsentRecord | None:
    return session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.subject == subject, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.decided_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )


def is_essential(purpose: str) -> bool:
    """fideslang's ``essential`` data uses: providing the service and legal obligations."""
    return purpose == ESSENTIAL_USE or purpose.startswith(ESSENTIAL_USE + ".")


def is_restricted(session: Session, subject: str) -> bool:
    """Has ``subject`` obtained restriction (Art. 18)? The iam connector marks the account with
    the ``gdpr_restricted`` role; a subject without an account cannot be marked this way."""
    from compliance.gdpr.connectors.iam import RESTRICTED_ROLE
    from iam.accounts.service import get_user

    try:
        user_id = UUID(subject)
    except ValueError:
        return False
    user = get_user(session, user_id)
    return user is not None and RESTRICTED_ROLE in user.roles


def has_consent(session: Session, subject: str, purpose: str) -> bool:
    """The check a service makes before processing: one indexed lookup. A restricted subject
    (Art. 18) is answered false for every purpose but the essential ones, whatever their
    records say: the data are kept, not used."""
    if not is_essential(purpose) and is_restricted(session, subject):
        return False
    latest = session.scalar(
        select(ConsentRecord.granted)
        .where(ConsentRecord.subject == subject, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.decided_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    return bool(latest)


def consents_of(session: Session, subject: str) -> Sequence[ConsentState]:
    states: list[ConsentState] = []
    for purpose in consent_purposes(session):
        latest = _latest(session, subject, purpose.key)
        if latest is None:
            states.append(ConsentState(purpose.key, False, None, None, None))
        else:
            states.append(
                ConsentState(
                    purpose.key,
                    latest.granted,
                    latest.decided_at,
                    latest.notice_version,
                    latest.source,
                )
            )
    return states


def history_of(session: Session, subject: str) -> Sequence[ConsentRecord]:
    """Every decision of ``subject``, oldest first (Art. 15 / Art. 7(1) proof)."""
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.subject == subject)
            .order_by(ConsentRecord.decided_at, ConsentRecord.id)
        )
    )


def subjects_of_purpose(
    session: Session, purpose: str, *, limit: int = 100, offset: int = 0
) -> tuple[int, int, Sequence[tuple[str, ConsentState]]]:
    """(granted count, withdrawn count, a page of the subjects' current states) for ``purpose``."""
    if session.get(ConsentPurpose, purpose) is None:
        raise UnknownPurpose(f"no consent purpose {purpose!r}")
    subjects = session.scalars(
        select(ConsentRecord.subject)
        .where(ConsentRecord.purpose == purpose)
        .group_by(ConsentRecord.subject)
        .order_by(ConsentRecord.subject)
    ).all()
    states: list[tuple[str, ConsentRecord]] = []
    for subject in subjects:
        latest = _latest(session, subject, purpose)
        if latest is not None:
            states.append((subject, latest))
    granted = sum(1 for _, r in states if r.granted)
    page = [
        (s, ConsentState(purpose, r.granted, r.decided_at, r.notice_version, r.source))
        for s, r in states[offset : offset + limit]
    ]
    return granted, len(states) - granted, page
