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
from typing import Any
from uuid import UUID

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.kms.service import create_data_key, destroy_data_key, load_data_key
from core.sensitive import contains_card_number
from scanners.exceptions import TargetExists, TargetInvalid, TargetNotFound
from scanners.models import ScanTarget

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
    if session.scalars(select(ScanTarget.id).where(ScanTarget.name == name)).first():
        raise TargetExists(f"a scan target named {name!r} exists")
    row = ScanTarget(
        name=name,
        url=clean_url,
        include=json.dumps(list(includes)),
        exclude=json.dumps(list(excludes)),
        header_names=json.dumps(sorted(clean_headers)),
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
