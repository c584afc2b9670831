"""Registered scan targets: add, list, show, remove. A scan reaches only a registered target.

Auth headers are sealed with AES-256-GCM under a KMS data key of their own (purpose
``scanners.target_headers``), bound to the target's id; only the header *names* are ever shown
back, and the data key is destroyed with the target (crypto-shredding). Every change is audited
with names, never values."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance.controls import Frequency
from core.audit.service import record_event
from core.clock import utcnow
from core.errors import ValidationFailed
from core.jobs.slots import Timing
from core.kms.service import create_data_key, destroy_data_key, load_data_key
from core.sensitive import contains_card_number
from scanners.engines.base import ENGINE_NAMES
from scanners.exceptions import TargetExists, TargetInvalid, TargetNotFound
from scanners.models import ScanTarget

if TYPE_CHECKING:
    from iam.oauth2.models import OAuth2Client

HEADER_KEY_PURPOSE = "scanners.target_headers"
NONCE_BYTES = 12
MAX_PATTERNS = 50
MAX_HEADERS = 20
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")  # an RFC 9110 token
_FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "origin"}


@dataclass(frozen=True, slots=True)
class TargetView:
    """What is shown of a target: never a header value."""

    id: UUID
    name: str
    url: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    header_names: tuple[str, ...]
    schedule: str | None
    engine: str
    last_scheduled_at: str | None
    auth_client: str | None
    created_by: str
    created_at: str

    def describe(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "url": self.url,
            "include": list(self.include),
            "exclude": list(self.exclude),
            "header_names": list(self.header_names),
            "schedule": self.schedule,
            "engine": self.engine,
            "last_scheduled_at": self.last_scheduled_at,
            "auth_client": self.auth_client,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }


def view(row: ScanTarget) -> TargetView:
    return TargetView(
        id=row.id,
        name=row.name,
        url=row.url,
        include=tuple(json.loads(row.include)),
        exclude=tuple(json.loads(row.exclude)),
        header_names=tuple(json.loads(row.header_names)),
        schedule=row.schedule,
        engine=row.engine,
        last_scheduled_at=row.last_scheduled_at.isoformat() if row.last_scheduled_at else None,
        auth_client=row.auth_client,
        created_by=row.created_by,
        created_at=row.created_at.isoformat(),
    )


def validate_url(url: str) -> str:
    """An http(s) URL without credentials or fragment; a bare origin gets its ``/``."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise TargetInvalid("the target URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise TargetInvalid("the target URL must use http or https")
    if not parsed.host:
        raise TargetInvalid("the target URL has no host")
    if parsed.userinfo:
        raise TargetInvalid("the target URL must not hold a user name or password")
    if parsed.fragment:
        raise TargetInvalid("the target URL must not hold a fragment")
    if len(url) > 2000:
        raise TargetInvalid("the target URL is longer than 2000 characters")
    if contains_card_number(url):
        raise TargetInvalid("the target URL holds a card number")
    text = str(parsed)
    return text if parsed.path else text + "/"


def validate_patterns(kind: str, patterns: Sequence[str]) -> tuple[str, ...]:
    if len(patterns) > MAX_PATTERNS:
        raise TargetInvalid(f"at most {MAX_PATTERNS} {kind} patterns")
    for pattern in patterns:
        if not pattern or len(pattern) > 500:
            raise TargetInvalid(f"an {kind} pattern must have 1 to 500 characters")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise TargetInvalid(
                f"{kind} pattern {pattern!r} is not a regular expression: {exc}"
            ) from None
    return tuple(patterns)


def parse_header(line: str) -> tuple[str, str]:
    """``'Name: value'`` -> (name, value); the error never repeats the value."""
    name, sep, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _HEADER_NAME.fullmatch(name):
        raise TargetInvalid("a header must look like 'Name: value' with a valid header name")
    if not value:
        raise TargetInvalid(f"header {name!r} has no value")
    return name, value


def _validate_headers(headers: Mapping[str, str]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise TargetInvalid(f"at most {MAX_HEADERS} headers")
    clean: dict[str, str] = {}
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise TargetInvalid(f"{name[:100]!r} is not a valid header name")
        if name.lower() in _FORBIDDEN_HEADERS:
            raise TargetInvalid(f"header {name!r} is set by the scanner itself")
        if not value or any(c in value for c in "\r\n\0") or len(value) > 8000:
            raise TargetInvalid(f"the value of header {name!r} is empty or not a header value")
        if name.lower() in {n.lower() for n in clean}:
            raise TargetInvalid(f"header {name!r} is given twice")
        clean[name] = value
    return clean


def _context(target_id: UUID) -> bytes:
    return b"rampart:scanners:target-headers:" + str(target_id).encode()


def _seal(key: bytes, target_id: UUID, headers: Mapping[str, str]) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    plaintext = json.dumps(dict(headers)).encode()
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _context(target_id))


def headers_of(session: Session, row: ScanTarget) -> dict[str, str]:
    """The target's auth headers in clear, for the engine only (never shown, never logged)."""
    if row.headers_sealed is None or row.headers_key_id is None:
        return {}
    key = load_data_key(session, row.headers_key_id)
    sealed = row.headers_sealed
    try:
        plaintext = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                        _context(row.id))  # fmt: skip
    except InvalidTag:
        raise TargetInvalid(f"the sealed headers of target {row.name!r} do not open") from None
    value: dict[str, str] = json.loads(plaintext)
    return value


def parse_schedule(text: str | None) -> str | None:
    """``off`` (or nothing) -> None; an ISO 8601 duration of one unit (``P1D``, ``P2W``,
    ``P1M``, ``P1Y``: compliance's parser) or a five-field cron expression in UTC (core.jobs'
    parser) -> the schedule as stored."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    text = " ".join(text.split())
    if text.startswith("P"):
        try:
            return str(Frequency.parse(text))
        except ValueError as exc:
            raise TargetInvalid(str(exc)) from None
    if len(text.split(" ")) != 5:
        raise TargetInvalid(
            f"schedule {text[:100]!r} is neither an ISO 8601 duration (P1D, P7D, P1M) "
            "nor a five-field cron expression"
        )
    try:
        Timing(cron=text)
    except ValidationFailed as exc:
        raise TargetInvalid(exc.detail or f"invalid cron expression {text!r}") from None
    return text


def _validate_engine(engine: str) -> str:
    if engine not in ENGINE_NAMES:
        raise TargetInvalid(f"unknown engine {engine!r}; engines: {', '.join(ENGINE_NAMES)}")
    return engine


def _schedule_origin(schedule: str | None, now: datetime) -> datetime | None:
    """What ``last_scheduled_at`` starts as: a duration is due at once (a baseline scan), a
    cron expression at its first slot after the schedule was set."""
    if schedule is None or schedule.startswith("P"):
        return None
    return now


def due_slot(row: ScanTarget, now: datetime) -> datetime | None:
    """The slot a scheduled scan of ``row`` is due for at ``now``, or None when none is due.

    Durations count from the last slot (``P1D``: one day after it; months clamp like compliance
    frequencies); a target more than one period behind gets one scan now, not a backlog. Cron
    slots are computed by core.jobs like any schedule's; only the newest missed one fires."""
    if row.schedule is None:
        return None
    last = row.last_scheduled_at
    if row.schedule.startswith("P"):
        frequency = Frequency.parse(row.schedule)
        if last is None:
            return now
        due = frequency.expires(last)
        if due > now:
            return None
        return due if frequency.expires(due) > now else now
    slot = Timing(cron=row.schedule).latest_at_or_before(now)
    if last is not None and slot <= last:
        return None
    return slot


def claim_slot(session: Session, row: ScanTarget, slot: datetime) -> bool:
    """Compare-and-set ``last_scheduled_at`` from the value ``row`` was read with to ``slot``:
    of two workers that both saw the target due, exactly one update matches."""
    seen = row.last_scheduled_at
    condition = (
        ScanTarget.last_scheduled_at.is_(None)
        if seen is None
        else ScanTarget.last_scheduled_at == seen
    )
    changed = session.execute(
        update(ScanTarget)
        .where(ScanTarget.id == row.id, ScanTarget.schedule == row.schedule, condition)
        .values(last_scheduled_at=slot)
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        return False
    session.refresh(row)
    return True


def set_schedule(
    session: Session, name: str, schedule: str | None, *, engine: str | None = None, actor: str
) -> TargetView:
    """Set (or with None / ``off`` clear) a target's schedule and optionally its engine."""
    row = find(session, name)
    row.schedule = parse_schedule(schedule)
    if engine is not None:
        row.engine = _validate_engine(engine)
    row.last_scheduled_at = _schedule_origin(row.schedule, utcnow().replace(microsecond=0))
    session.flush()
    shown = view(row)
    record_event(
        session,
        event_type="scanners.target_scheduled",
        resource=f"scan_target:{name}",
        details={"schedule": shown.schedule, "engine": shown.engine},
        actor=actor,
    )
    return shown


def find(session: Session, name: str) -> ScanTarget:
    row = session.scalars(select(ScanTarget).where(ScanTarget.name == name)).one_or_none()
    if row is None:
        raise TargetNotFound(f"no scan target named {name!r}")
    return row


def add_target(
    session: Session,
    *,
    name: str,
    url: str,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    schedule: str | None = None,
    engine: str = "builtin",
    auth_client: str | None = None,
    actor: str,
) -> TargetView:
    if not _NAME.fullmatch(name):
        raise TargetInvalid(
            "a target name has 1 to 63 characters: lower-case letters, digits, '.', '_', '-'"
        )
    clean_url = validate_url(url)
    includes = validate_patterns("include", include)
    excludes = validate_patterns("exclude", exclude)
    clean_headers = _validate_headers(headers or {})
    clean_schedule = parse_schedule(schedule)
    clean_engine = _validate_engine(engine)
    client = _validate_auth_client(session, auth_client, clean_headers)
    if session.scalars(select(ScanTarget.id).where(ScanTarget.name == name)).first():
        raise TargetExists(f"a scan target named {name!r} exists")
    row = ScanTarget(
        name=name,
        url=clean_url,
        include=json.dumps(list(includes)),
        exclude=json.dumps(list(excludes)),
        header_names=json.dumps(sorted(clean_headers)),
        schedule=clean_schedule,
        engine=clean_engine,
        last_scheduled_at=_schedule_origin(clean_schedule, utcnow().replace(microsecond=0)),
        auth_client=client,
        created_by=actor,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise TargetExists(f"a scan target named {name!r} exists") from None
    if clean_headers:
        key_id, key = create_data_key(session, HEADER_KEY_PURPOSE)
        row.headers_key_id = key_id
        row.headers_sealed = _seal(key, row.id, clean_headers)
        session.flush()
    shown = view(row)
    record_event(
        session,
        event_type="scanners.target_added",
        resource=f"scan_target:{name}",
        details={k: v for k, v in shown.describe().items() if k != "created_at"},
        actor=actor,
    )
    return shown


def _validate_auth_client(
    session: Session, client_id: str | None, headers: Mapping[str, str]
) -> str | None:
    """A confidential, active Rampart client allowed the client_credentials grant; its token
    becomes the scan's ``Authorization`` header, so a sealed one cannot be given too."""
    if client_id is None:
        return None
    if any(name.lower() == "authorization" for name in headers):
        raise TargetInvalid("--auth-client and an Authorization header exclude each other")
    auth_client(session, client_id)
    return client_id


def auth_client(session: Session, client_id: str) -> OAuth2Client:
    """The enabled confidential client ``client_id`` that may use client_credentials."""
    from iam.oauth2.models import OAuth2Client  # only targets with client auth need iam's tables

    row = session.scalars(
        select(OAuth2Client).where(OAuth2Client.client_id == client_id)
    ).one_or_none()
    if row is None or not row.enabled:
        raise TargetInvalid(f"no enabled OAuth2 client {client_id[:100]!r}")
    if row.client_type != "confidential" or "client_credentials" not in row.grant_types:
        raise TargetInvalid(
            f"OAuth2 client {client_id!r} is not a confidential client_credentials client"
        )
    return row


def list_targets(session: Session) -> list[TargetView]:
    return [view(row) for row in session.scalars(select(ScanTarget).order_by(ScanTarget.name))]


def show_target(session: Session, name: str) -> TargetView:
    return view(find(session, name))


def remove_target(session: Session, name: str, *, actor: str) -> TargetView:
    """Remove a target with its scans and findings; its header key is destroyed."""
    row = find(session, name)
    shown = view(row)
    key_id = row.headers_key_id
    session.delete(row)
    session.flush()
    if key_id is not None:
        destroy_data_key(session, key_id)
    record_event(
        session,
        event_type="scanners.target_removed",
        resource=f"scan_target:{name}",
        details={"name": name, "url": shown.url},
        actor=actor,
    )
    return shown
