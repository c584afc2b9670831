"""OAuth clients: create or update (idempotent, by name), list, update, enable/disable, rotate
the secret, delete; each change audited in the caller's transaction. Secrets are returned once
and stored only as HMACs. Deleting or disabling a client revokes every token it holds."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from iam.oauth2 import token_store
from iam.oauth2.client_cache import forget_client_after_commit
from iam.oauth2.client_secrets import current_pepper, generate_client_secret, hash_client_secret
from iam.oauth2.models import OAuth2Client
from iam.oauth2.schemas import ClientChanges, ClientSpec, ClientView

CLIENT_ID_PREFIX = "rpc_"


@dataclass(frozen=True, slots=True)
class AppliedClient:
    client: OAuth2Client
    created: bool
    client_secret: str | None  # set only when a secret was just generated

    def __repr__(self) -> str:
        return f"AppliedClient(client_id={self.client.client_id!r}, created={self.created})"


def client_view(client: OAuth2Client) -> ClientView:
    return ClientView(
        client_id=client.client_id,
        name=client.name,
        client_type=client.client_type,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        redirect_uris=list(client.redirect_uris),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        grant_types=list(client.grant_types),
        scopes=list(client.scopes),
        audiences=list(client.audiences),
        first_party=client.first_party,
        enabled=client.enabled,
        has_jwks=bool(client.jwks),
        created_at=client.created_at,
        secret_rotated_at=client.secret_rotated_at,
    )


def get_client(db: Session, client_id: str) -> OAuth2Client | None:
    return db.execute(
        select(OAuth2Client).where(OAuth2Client.client_id == client_id)
    ).scalar_one_or_none()


def require_client(db: Session, client_id: str) -> OAuth2Client:
    client = get_client(db, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    return client


def list_clients(db: Session) -> list[OAuth2Client]:
    return list(db.execute(select(OAuth2Client).order_by(OAuth2Client.name)).scalars())


def _uses_secret(spec_or_client: ClientSpec | OAuth2Client) -> bool:
    return spec_or_client.token_endpoint_auth_method in (
        "client_secret_basic",
        "client_secret_post",
    )


def _set_secret(db: Session, client: OAuth2Client) -> str:
    secret = generate_client_secret()
    pepper_id, pepper = current_pepper(db)
    client.secret_hash = hash_client_secret(pepper, secret)
    client.secret_pepper_id = pepper_id
    return secret


def _copy_spec(client: OAuth2Client, spec: ClientSpec) -> None:
    assert spec.token_endpoint_auth_method is not None  # noqa: S101 - set by the validator
    client.name = spec.name
    client.client_type = spec.client_type
    client.token_endpoint_auth_method = spec.token_endpoint_auth_method
    client.redirect_uris = list(spec.redirect_uris)
    client.post_logout_redirect_uris = list(spec.post_logout_redirect_uris)
    client.grant_types = list(spec.grant_types)
    client.scopes = list(spec.scopes)
    client.audiences = list(spec.audiences)
    client.first_party = spec.first_party
    client.jwks = spec.jwks


def apply_client(db: Session, spec: ClientSpec) -> AppliedClient:
    """Create the client named ``spec.name``, or bring the existing one in line with ``spec``.

    A secret is generated (and returned, once) only when the client is new or newly needs one.
    """
    existing = db.execute(
        select(OAuth2Client).where(OAuth2Client.name == spec.name)
    ).scalar_one_or_none()
    if existing is None and spec.client_id and get_client(db, spec.client_id) is not None:
        raise Conflict(f"client_id {spec.client_id} is taken by another client")
    if existing is not None and spec.client_id and spec.client_id != existing.client_id:
        raise ValidationFailed("a client's client_id cannot change")
    created = existing is None
    client = existing or OAuth2Client(
        client_id=spec.client_id or CLIENT_ID_PREFIX + secrets.token_urlsafe(16),
        created_at=utcnow(),
    )
    _copy_spec(client, spec)
    client.updated_at = utcnow()
    secret: str | None = None
    if _uses_secret(spec):
        if client.secret_hash is None:
            secret = _set_secret(db, client)
    else:
        client.secret_hash = None
        client.secret_pepper_id = None
    if created:
        db.add(client)
    db.flush()
    forget_client_after_commit(db, client.client_id)
    record_event(
        db,
        event_type="oauth2.client.created" if created else "oauth2.client.updated",
        resource=f"oauth2_client:{client.client_id}",
        details={
            "client_id": client.client_id,
            "name": client.name,
            "client_type": client.client_type,
            "auth_method": client.token_endpoint_auth_method,
            "grant_types": list(client.grant_types),
            "first_party": client.first_party,
        },
    )
    return AppliedClient(client=client, created=created, client_secret=secret)


def create_client(db: Session, spec: ClientSpec) -> AppliedClient:
    """Like :func:`apply_client` but refuses an existing name."""
    if db.execute(select(OAuth2Client.id).where(OAuth2Client.name == spec.name)).first():
        raise Conflict(f"a client named {spec.name!r} already exists")
    return apply_client(db, spec)


def rotate_client_secret(db: Session, client_id: str) -> str:
    """A new secret replaces the old at once (the old one stops working); returned once."""
    client = require_client(db, client_id)
    if not _uses_secret(client):
        raise ValidationFailed(
            f"client {client_id} authenticates with {client.token_endpoint_auth_method}: no secret"
        )
    secret = _set_secret(db, client)
    client.secret_rotated_at = client.updated_at = utcnow()
    db.flush()
    forget_client_after_commit(db, client_id)
    record_event(
        db,
        event_type="oauth2.client.secret_rotated",
        resource=f"oauth2_client:{client_id}",
        details={"client_id": client_id},
    )
    return secret


def _revoke_everything_held(db: Session, client_id: str, reason: str) -> int:
    """Every refresh family of the client and every access token it was issued so far."""
    families = token_store.revoke_families_of_client(db, client_id, reason)
    token_store.revoke_holder(db, f"client:{client_id}", reason)
    return families


def delete_client(db: Session, client_id: str) -> None:
    """Delete the client and revoke every token it holds (refresh and access, everywhere)."""
    client = require_client(db, client_id)
    families = _revoke_everything_held(db, client_id, "client_deleted")
    db.delete(client)
    db.flush()
    forget_client_after_commit(db, client_id)
    record_event(
        db,
        event_type="oauth2.client.deleted",
        resource=f"oauth2_client:{client_id}",
        details={"client_id": client_id, "revoked_families": families},
    )


def set_client_enabled(db: Session, client_id: str, enabled: bool) -> bool:
    """Enable or disable; a disabled client authenticates nowhere and every token it holds is
    revoked. False when it already was so."""
    client = require_client(db, client_id)
    if client.enabled == enabled:
        return False
    client.enabled = enabled
    client.updated_at = utcnow()
    db.flush()
    details: dict[str, Any] = {"client_id": client_id}
    if not enabled:
        details["revoked_families"] = _revoke_everything_held(db, client_id, "client_disabled")
    forget_client_after_commit(db, client_id)
    record_event(
        db,
        event_type="oauth2.client.enabled" if enabled else "oauth2.client.disabled",
        resource=f"oauth2_client:{client_id}",
        details=details,
    )
    return True


_NARROWING_FIELDS = ("grant_types", "scopes", "audiences")


def update_client(db: Session, client_id: str, changes: ClientChanges) -> list[str]:
    """Change the fields given (validated as a whole, like a new declaration); the names of
    those that changed. Taking a grant type, scope or audience away revokes the client's
    tokens, which may carry it: it asks for new ones."""
    client = require_client(db, client_id)
    given = changes.model_dump(exclude_unset=True, exclude={"enabled"})
    current = ClientSpec(
        name=client.name,
        client_id=client.client_id,
        client_type=client.client_type,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        redirect_uris=list(client.redirect_uris),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        grant_types=list(client.grant_types),
        scopes=list(client.scopes),
        audiences=list(client.audiences),
        first_party=client.first_party,
        jwks=client.jwks,
    )
    spec = ClientSpec.model_validate({**current.model_dump(), **given})
    if (
        spec.name != client.name
        and db.execute(select(OAuth2Client.id).where(OAuth2Client.name == spec.name)).first()
    ):
        raise Conflict(f"a client named {spec.name!r} already exists")
    before, after = current.model_dump(), spec.model_dump()
    changed = [name for name in given if before[name] != after[name]]
    narrowed = any(not set(after[name]) >= set(before[name]) for name in _NARROWING_FIELDS)
    if changed:
        _copy_spec(client, spec)
        client.updated_at = utcnow()
        db.flush()
        forget_client_after_commit(db, client_id)
        details: dict[str, Any] = {"client_id": client_id, "changed": changed}
        if narrowed:
            details["revoked_families"] = _revoke_everything_held(db, client_id, "client_narrowed")
        record_event(
            db,
            event_type="oauth2.client.updated",
            resource=f"oauth2_client:{client_id}",
            details=details,
        )
    if changes.enabled is not None and set_client_enabled(db, client_id, changes.enabled):
        changed.append("enabled")
    return changed


CLI_CLIENT_ID = "rampart-cli"
CLI_CLIENT_NAME = "Rampart CLI"


def ensure_cli_client(db: Session) -> OAuth2Client:
    """The first-party public client ``rampart login`` uses (RFC 8628 device grant, refresh);
    created once, then left as the operator may have adjusted it."""
    existing = get_client(db, CLI_CLIENT_ID)
    if existing is not None:
        return existing
    spec = ClientSpec(
        name=CLI_CLIENT_NAME,
        client_id=CLI_CLIENT_ID,
        client_type="public",
        grant_types=["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        scopes=["openid", "profile", "email"],
        first_party=True,
    )
    return apply_client(db, spec).client
