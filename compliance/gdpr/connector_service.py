"""Configured GDPR connectors: webhooks of shop services and manual tasks (create, update,
disable, delete, rotate a webhook's secret), and the results officers record for manual tasks.

A webhook's secret is sealed with AES-256-GCM under a KMS data key of its own (purpose
``gdpr.connector_secret``), bound to the connector's id; it is returned once (on creation and
rotation) and never shown, logged or audited again. Every change is audited with names only."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gdpr.connector_models import DsarConnectorConfig, DsarTask
from compliance.gdpr.connectors.base import REQUEST_TYPES
from core.audit.service import record_event
from core.clock import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.kms.service import create_data_key, destroy_data_key, load_data_key
from core.sensitive import contains_card_number

SECRET_KEY_PURPOSE = "gdpr.connector_secret"  # noqa: S105  (a KMS purpose name)
NONCE_BYTES = 12
MIN_SECRET_LENGTH = 24
KINDS = ("webhook", "manual")
TASK_RESULTS = ("done", "not_applicable")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


class ConnectorNotFound(NotFound):
    slug, title = "dsar-connector-not-found", "No such GDPR connector"


class ConnectorExists(Conflict):
    slug, title = "dsar-connector-exists", "A GDPR connector of that name exists"


class ConnectorInvalid(ValidationFailed):
    slug, title = "dsar-connector-invalid", "GDPR connector configuration invalid"


class TaskNotFound(NotFound):
    slug, title = "dsar-task-not-found", "No open manual task for that request and connector"


@dataclass(frozen=True, slots=True)
class ConnectorView:
    """What is shown of a connector: whether it has a secret, never the secret."""

    name: str
    kind: str
    types: tuple[str, ...]
    enabled: bool
    url: str | None
    timeout_seconds: float
    has_secret: bool
    instructions: str | None
    assignee_email: str | None
    created_by: str
    created_at: str
    updated_at: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "types": list(self.types),
            "enabled": self.enabled,
            "url": self.url,
            "timeout_seconds": self.timeout_seconds,
            "has_secret": self.has_secret,
            "instructions": self.instructions,
            "assignee_email": self.assignee_email,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def view(row: DsarConnectorConfig) -> ConnectorView:
    return ConnectorView(
        name=row.name,
        kind=row.kind,
        types=tuple(json.loads(row.types)),
        enabled=row.enabled,
        url=row.url,
        timeout_seconds=row.timeout_seconds,
        has_secret=row.secret_sealed is not None,
        instructions=row.instructions,
        assignee_email=row.assignee_email,
        created_by=row.created_by,
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
    )


# -- validation ------------------------------------------------------------------------------


def _validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConnectorInvalid(
            "a connector name has 1 to 63 characters: lower-case letters, digits, '.', '_', '-'"
        )
    if name.startswith("rampart."):
        raise ConnectorInvalid("names starting with 'rampart.' are the built-in connectors'")
    return name


def _validate_types(types: Sequence[str]) -> list[str]:
    unknown = [t for t in types if t not in REQUEST_TYPES]
    if unknown or not types:
        raise ConnectorInvalid(
            f"types must be a non-empty subset of {', '.join(REQUEST_TYPES)}"
            + (f"; unknown: {', '.join(sorted(set(unknown)))[:200]}" if unknown else "")
        )
    return [t for t in REQUEST_TYPES if t in types]


def validate_url(url: str) -> str:
    """An http(s) URL without credentials, query or fragment. Where it may point (the address
    guard) is decided on every call, when the name is resolved."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ConnectorInvalid("the webhook URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConnectorInvalid("the webhook URL must be an http(s) URL with a host")
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise ConnectorInvalid("the webhook URL must not hold credentials, a query or fragment")
    if len(url) > 2000 or contains_card_number(url):
        raise ConnectorInvalid("the webhook URL is too long or holds a card number")
    return str(parsed)


def _validate_timeout(timeout: float) -> float:
    if not 0.1 <= timeout <= 120:
        raise ConnectorInvalid("timeout_seconds must be between 0.1 and 120")
    return float(timeout)


def _validate_email(email: str) -> str:
    if "@" not in email or any(c in email for c in "\r\n\0 ") or len(email) > 320:
        raise ConnectorInvalid("assignee_email is not an e-mail address")
    return email


def _validate_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH or len(secret) > 512:
        raise ConnectorInvalid(f"a webhook secret has {MIN_SECRET_LENGTH} to 512 characters")
    return secret


# -- the secret ------------------------------------------------------------------------------


def _context(connector_id: UUID) -> bytes:
    return b"rampart:gdpr:connector-secret:" + str(connector_id).encode()


def _seal_secret(session: Session, row: DsarConnectorConfig, secret: str) -> None:
    old = row.secret_key_id
    key_id, key = create_data_key(session, SECRET_KEY_PURPOSE)
    nonce = secrets.token_bytes(NONCE_BYTES)
    row.secret_key_id = key_id
    row.secret_sealed = nonce + AESGCM(key).encrypt(nonce, secret.encode(), _context(row.id))
    if old is not None:
        destroy_data_key(session, old)


def secret_of(session: Session, row: DsarConnectorConfig) -> bytes:
    """The webhook's HMAC secret in clear, for signing only (never shown, never logged)."""
    if row.secret_sealed is None or row.secret_key_id is None:
        raise ConnectorInvalid(f"connector {row.name!r} has no secret")
    key = load_data_key(session, row.secret_key_id)
    sealed = row.secret_sealed
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _context(row.id))
    except InvalidTag:
        raise ConnectorInvalid(
            f"the sealed secret of connector {row.name!r} does not open"
        ) from None


# -- configuration ---------------------------------------------------------------------------


def list_connectors(session: Session, *, enabled_only: bool = False) -> list[DsarConnectorConfig]:
    query = select(DsarConnectorConfig).order_by(DsarConnectorConfig.name)
    if enabled_only:
        query = query.where(DsarConnectorConfig.enabled.is_(True))
    return list(session.scalars(query))


def find(session: Session, name: str) -> DsarConnectorConfig:
    row = session.scalars(
        select(DsarConnectorConfig).where(DsarConnectorConfig.name == name)
    ).one_or_none()
    if row is None:
        raise ConnectorNotFound(f"no GDPR connector named {name[:100]!r}")
    return row


def _new_row(session: Session, name: str, kind: str, types: Sequence[str], actor: str) -> Any:
    _validate_name(name)
    if session.scalars(
        select(DsarConnectorConfig.id).where(DsarConnectorConfig.name == name)
    ).first():
        raise ConnectorExists(f"a GDPR connector named {name!r} exists")
    return DsarConnectorConfig(
        name=name, kind=kind, types=json.dumps(_validate_types(types)), created_by=actor
    )


def _audit(session: Session, event: str, row: DsarConnectorConfig, **details: Any) -> None:
    record_event(
        session,
        event_type=f"gdpr.connector_{event}",
        resource=f"dsar_connector:{row.name}",
        details={"kind": row.kind, **details},
    )


def create_webhook(
    session: Session,
    *,
    name: str,
    url: str,
    types: Sequence[str],
    secret: str | None = None,
    timeout_seconds: float = 10.0,
    enabled: bool = True,
    actor: str,
) -> tuple[ConnectorView, str]:
    """A new webhook connector and its secret (generated unless given), returned this once."""
    row: DsarConnectorConfig = _new_row(session, name, "webhook", types, actor)
    row.url = validate_url(url)
    row.timeout_seconds = _validate_timeout(timeout_seconds)
    row.enabled = enabled
    clear = _validate_secret(secret) if secret is not None else secrets.token_urlsafe(32)
    session.add(row)
    session.flush()
    _seal_secret(session, row, clear)
    session.flush()
    _audit(session, "created", row, types=json.loads(row.types), enabled=enabled)
    return view(row), clear


def create_manual(
    session: Session,
    *,
    name: str,
    instructions: str,
    assignee_email: str,
    types: Sequence[str],
    enabled: bool = True,
    actor: str,
) -> ConnectorView:
    row: DsarConnectorConfig = _new_row(session, name, "manual", types, actor)
    if not instructions.strip() or len(instructions) > 10_000:
        raise ConnectorInvalid("instructions must have 1 to 10000 characters")
    row.instructions = instructions
    row.assignee_email = _validate_email(assignee_email)
    row.timeout_seconds = 10.0
    row.enabled = enabled
    session.add(row)
    session.flush()
    _audit(session, "created", row, types=json.loads(row.types), enabled=enabled)
    return view(row)


def update_connector(
    session: Session,
    name: str,
    *,
    types: Sequence[str] | None = None,
    enabled: bool | None = None,
    url: str | None = None,
    timeout_seconds: float | None = None,
    instructions: str | None = None,
    assignee_email: str | None = None,
) -> ConnectorView:
    """Change what is given; a field of the other kind (a URL for a manual task) is refused."""
    row = find(session, name)
    webhook_only = {"url": url, "timeout_seconds": timeout_seconds}
    manual_only = {"instructions": instructions, "assignee_email": assignee_email}
    wrong = webhook_only if row.kind == "manual" else manual_only
    given = sorted(k for k, v in wrong.items() if v is not None)
    if given:
        raise ConnectorInvalid(f"a {row.kind} connector has no {', '.join(given)}")
    changed: list[str] = []
    if types is not None:
        row.types = json.dumps(_validate_types(types))
        changed.append("types")
    if enabled is not None:
        row.enabled = enabled
        changed.append("enabled")
    if url is not None:
        row.url = validate_url(url)
        changed.append("url")
    if timeout_seconds is not None:
        row.timeout_seconds = _validate_timeout(timeout_seconds)
        changed.append("timeout_seconds")
    if instructions is not None:
        if not instructions.strip() or len(instructions) > 10_000:
            raise ConnectorInvalid("instructions must have 1 to 10000 characters")
        row.instructions = instructions
        changed.append("instructions")
    if assignee_email is not None:
        row.assignee_email = _validate_email(assignee_email)
        changed.append("assignee_email")
    if changed:
        row.updated_at = utcnow()
        session.flush()
        _audit(session, "updated", row, fields=changed, enabled=row.enabled)
    return view(row)


def rotate_secret(session: Session, name: str, *, secret: str | None = None) -> str:
    """A new secret for a webhook (the old one's key is destroyed); returned this once."""
    row = find(session, name)
    if row.kind != "webhook":
        raise ConnectorInvalid(f"connector {name!r} is a {row.kind} connector: it has no secret")
    clear = _validate_secret(secret) if secret is not None else secrets.token_urlsafe(32)
    _seal_secret(session, row, clear)
    row.updated_at = utcnow()
    session.flush()
    _audit(session, "secret_rotated", row)
    return clear


def delete_connector(session: Session, name: str) -> None:
    """Remove the connector and crypto-shred its secret. Outcomes it gave stay (they are the
    requests' record); a request still waiting for it keeps waiting until it is configured
    again, so disable or delete only connectors without pending answers."""
    row = find(session, name)
    if row.secret_key_id is not None:
        destroy_data_key(session, row.secret_key_id)
    _audit(session, "deleted", row)
    session.delete(row)
    session.flush()


# -- manual tasks ----------------------------------------------------------------------------


def task_of(session: Session, request_id: UUID, connector: str) -> DsarTask | None:
    return session.get(DsarTask, (request_id, connector))


def open_task(session: Session, request_id: UUID, connector: str) -> DsarTask:
    task = DsarTask(request_id=request_id, connector=connector, status="open")
    session.add(task)
    session.flush()
    record_event(
        session,
        event_type="gdpr.task_opened",
        resource=f"dsar_request:{request_id}",
        details={"connector": connector},
    )
    return task


def record_task_result(
    session: Session,
    request_id: UUID,
    connector: str,
    *,
    status: str,
    rows_affected: int = 0,
    method: str = "",
    note: str = "",
    actor: str,
) -> DsarTask:
    """Close an open task with what the officer did; the next run of the request reads it."""
    task = task_of(session, request_id, connector)
    if task is None or task.status != "open":
        raise TaskNotFound(f"no open task of connector {connector[:100]!r} for this request")
    if status not in TASK_RESULTS:
        raise ConnectorInvalid(f"a task's result is one of {', '.join(TASK_RESULTS)}")
    if rows_affected < 0 or len(method) > 100 or len(note) > 2000:
        raise ConnectorInvalid("rows_affected >= 0, method <= 100 and note <= 2000 characters")
    if contains_card_number(note) or contains_card_number(method):
        raise ConnectorInvalid("the note or method holds a card number")
    task.status, task.rows_affected = status, rows_affected
    task.method, task.note = method or "manual", note
    task.closed_at, task.closed_by = utcnow(), actor
    session.flush()
    record_event(
        session,
        event_type="gdpr.task_recorded",
        resource=f"dsar_request:{request_id}",
        details={"connector": connector, "status": status, "rows_affected": rows_affected},
        actor=actor,
    )
    return task


def list_tasks(session: Session, *, status: str | None = None) -> list[DsarTask]:
    query = select(DsarTask).order_by(DsarTask.opened_at)
    if status is not None:
        query = query.where(DsarTask.status == status)
    return list(session.scalars(query))
