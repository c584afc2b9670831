"""RFC 8628 device authorization grant: the device authorization endpoint hands out a device
code (for the polling client) and a short user code (typed by the person at a browser, on the
``/device`` page); only SHA-256 of each is stored. The token endpoint answers the polling client
with authorization_pending / slow_down until the person approves or denies; an approved code is
redeemed once, and the token carries how the approver logged in (amr, acr, auth_time)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    ExpiredTokenError,
    SlowDownError,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.oauth2.grants.authorization_code import CLIENT_AUTH_METHODS
from iam.oauth2.grants.issuing import IssuesRampartTokens
from iam.oauth2.models import DeviceAuthorization
from iam.oauth2.registered_client import RegisteredClient
from iam.oauth2.requests import RampartOAuth2Request
from iam.oauth2.token_store import opaque_hash
from iam.oauth2.tokens import Subject
from iam.oauth2.userinfo import user_claims

DEVICE_PATH = "/device"
# RFC 8628 §6.1: no vowels (no words), no look-alikes; 20^8 ≈ 2.6e10 codes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
DEVICE_CODE_TTL = 600
POLL_INTERVAL = 5
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5


def new_user_code() -> str:
    code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalise_user_code(typed: str) -> str | None:
    """The 8 code letters of what a person typed (case, spaces and dashes ignored), or None."""
    letters = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(letters) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in letters):
        return None
    return letters


def user_code_hash(typed: str) -> str | None:
    letters = normalise_user_code(typed)
    return opaque_hash(letters) if letters else None


def find_pending_by_user_code(db: Session, typed: str) -> DeviceAuthorization | None:
    """The undecided, unexpired authorization for a typed user code (locked), or None."""
    digest = user_code_hash(typed)
    if digest is None:
        return None
    row = db.execute(
        select(DeviceAuthorization)
        .where(DeviceAuthorization.user_code_hash == digest)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.status != "pending" or row.expires_at <= utcnow():
        return None
    return row


class RampartDeviceAuthorizationEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    EXPIRES_IN = DEVICE_CODE_TTL
    INTERVAL = POLL_INTERVAL

    def authenticate_client(self, request: RampartOAuth2Request) -> RegisteredClient:
        client: RegisteredClient = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("The client may not use the device authorization grant.")
        # authlib's own scope check is a no-op without scopes_supported: check the client's.
        if client.get_allowed_scope(request.payload.scope) is None:
            raise InvalidScopeError()
        return client

    def generate_user_code(self) -> str:
        return new_user_code()

    def generate_device_code(self) -> str:
        return secrets.token_urlsafe(32)

    def get_verification_uri(self) -> str:
        return get_settings().issuer + DEVICE_PATH

    def save_device_credential(
        self, client_id: str, scope: str | None, data: dict[str, Any]
    ) -> None:
        db: Session = self.server.db
        client = self.server.query_client(client_id)
        resolved = client.get_allowed_scope(scope) if client else None
        if resolved is None:
            raise InvalidScopeError()
        now = utcnow()
        row = DeviceAuthorization(
            device_code_hash=opaque_hash(data["device_code"]),
            user_code_hash=opaque_hash(data["user_code"].replace("-", "")),
            client_id=client_id,
            scope=resolved,
            status="pending",
            interval=self.INTERVAL,
            amr=[],
            created_at=now,
            expires_at=now + timedelta(seconds=self.EXPIRES_IN),
        )
        db.add(row)
        db.flush()
        record_event(
            db,
            event_type="oauth2.device.requested",
            actor=f"client:{client_id}",
            resource=f"oauth2_client:{client_id}",
            details={
                "client_id": client_id,
                "device_request": str(row.id),
                "scope": resolved,
            },
        )


class PresentedDeviceCode:
    """The stored row as authlib's DeviceCredentialMixin sees it."""

    def __init__(self, row: DeviceAuthorization) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_scope(self) -> str:
        return self.row.scope


class RampartDeviceCodeGrant(IssuesRampartTokens, DeviceCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    request: RampartOAuth2Request

    def query_device_credential(self, device_code: str) -> PresentedDeviceCode:
        if not isinstance(device_code, str) or len(device_code) > 200:
            raise InvalidGrantError("Unknown device_code.")
        row = self.server.db.execute(
            select(DeviceAuthorization)
            .where(DeviceAuthorization.device_code_hash == opaque_hash(device_code))
            .with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise InvalidGrantError("Unknown device_code.")
        return PresentedDeviceCode(row)

    def validate_device_credential(self, credential: PresentedDeviceCode) -> Subject:
        row = credential.row
        now = utcnow()
        if row.status == "redeemed":
            raise InvalidGrantError("The device_code was already used.")
        if row.expires_at <= now:
            raise ExpiredTokenError()
        if row.status == "denied":
            raise AccessDeniedError()
        if row.status == "approved" and row.user_id is not None and row.auth_time is not None:
            row.status = "redeemed"  # single use, under the row lock taken above
            self.server.db.flush()
            if user_claims(self.server.db, row.user_id, "") is None:
                raise InvalidGrantError("The approving account is no longer active.")
            return Subject(
                user_id=row.user_id,
                auth_time=row.auth_time,
                amr=list(row.amr),
                acr=row.acr,
                sid=row.sid,
            )
        polled_at, row.last_polled_at = row.last_polled_at, now
        if polled_at is not None and now - polled_at < timedelta(seconds=row.interval):
            row.interval += SLOW_DOWN_STEP
            self.server.db.flush()
            raise SlowDownError()
        self.server.db.flush()
        raise AuthorizationPendingError()
