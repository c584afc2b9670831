"""Refresh token grant with rotation: every use yields the next generation of the family; an
older generation presented again is reuse, which revokes the whole family (audited)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants

from core.audit.service import record_event
from iam.oauth2 import token_store
from iam.oauth2.grants.authorization_code import CLIENT_AUTH_METHODS
from iam.oauth2.grants.issuing import IssuesRampartTokens
from iam.oauth2.requests import RampartOAuth2Request
from iam.oauth2.token_store import RefreshLookup
from iam.oauth2.tokens import Subject
from iam.oauth2.userinfo import user_claims


class PresentedRefreshToken:
    """The looked-up generation as authlib's TokenMixin sees it."""

    def __init__(self, lookup: RefreshLookup) -> None:
        self.lookup = lookup

    def check_client(self, client: Any) -> bool:
        return bool(self.lookup.family.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.lookup.family.scope


class RefreshTokenGrant(IssuesRampartTokens, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    request: RampartOAuth2Request

    def authenticate_refresh_token(self, refresh_token: str) -> PresentedRefreshToken | None:
        db = self.server.db
        lookup = token_store.find_refresh_token(db, refresh_token, lock=True)
        if lookup is None:
            return None
        family = lookup.family
        if family.client_id != self.request.client.get_client_id():
            return None
        if not lookup.is_current:
            self._on_reuse(lookup)
            return None
        if not lookup.usable:
            return None
        if user_claims(db, family.user_id, "") is None:
            return None
        return PresentedRefreshToken(lookup)

    def _on_reuse(self, lookup: RefreshLookup) -> None:
        family = lookup.family
        already_revoked = family.revoked_at is not None
        jtis = token_store.revoke_family(self.server.db, family, "refresh_reuse")
        record_event(
            self.server.db,
            event_type="oauth2.refresh.reused",
            outcome="denied",
            resource=f"oauth2_client:{family.client_id}",
            details={
                "client_id": family.client_id,
                "family_id": str(family.id),
                "presented_generation": lookup.token.generation,
                "current_generation": family.current_generation,
                "family_already_revoked": already_revoked,
                "revoked_jti": jtis,
            },
        )

    def authenticate_user(self, refresh_token: PresentedRefreshToken) -> Subject:
        family = refresh_token.lookup.family
        return Subject(
            user_id=family.user_id,
            auth_time=family.auth_time,
            amr=list(family.amr),
            acr=family.acr,
            sid=family.sid,
        )

    def revoke_old_credential(self, refresh_token: PresentedRefreshToken) -> None:
        """Nothing to do: save_token added the next generation, which supersedes this one."""
