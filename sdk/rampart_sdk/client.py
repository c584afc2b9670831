"""One object a service configures once: its Rampart (where, who it is) and everything the SDK
does with it — verify tokens, introspect, check permissions, use the vault."""

from __future__ import annotations

import httpx

from rampart_sdk.errors import RampartRequestFailed, TokenInvalid
from rampart_sdk.http import ServiceSession
from rampart_sdk.jwks import JwksCache
from rampart_sdk.permissions import Check, Decision, PermissionClient
from rampart_sdk.tokens import AccessToken, TokenVerifier
from rampart_sdk.vault import VaultClient

JWKS_PATH = "/.well-known/jwks.json"
INTROSPECT_PATH = "/oauth2/introspect"
CONSENT_CHECK_PATH = "/v1/consent/check"


class Rampart:
    """``Rampart(base_url, issuer=..., audience=..., client_id=..., client_secret=...)``.

    ``audience`` is what this service's tokens must be addressed to (its resource URL);
    ``base_url`` is where Rampart is reached (the issuer by default).
    """

    def __init__(
        self,
        base_url: str,
        *,
        audience: str,
        client_id: str,
        client_secret: str,
        issuer: str | None = None,
        domain: str = "rampart",
        clock_skew_seconds: int = 30,
        permission_ttl_seconds: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.issuer = issuer or self.base_url
        self.domain = domain
        self.http = http or httpx.Client(timeout=5.0)
        self.session = ServiceSession(
            self.base_url, client_id=client_id, client_secret=client_secret, http=self.http
        )
        self.jwks = JwksCache(self.base_url + JWKS_PATH, http=self.http)
        self.verifier = TokenVerifier(
            issuer=self.issuer,
            audience=audience,
            jwks=self.jwks,
            clock_skew_seconds=clock_skew_seconds,
        )
        self.permissions = PermissionClient(self.session, ttl_seconds=permission_ttl_seconds)
        self.vault = VaultClient(self.session)

    def verify(self, token: str) -> AccessToken:
        return self.verifier.verify(token)

    def introspect(self, token: str) -> AccessToken:
        """Verify locally, then ask Rampart whether the token is still active (revocation)."""
        verified = self.verifier.verify(token)
        try:
            response = self.http.post(
                self.base_url + INTROSPECT_PATH,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(self.session.client_id, self.session._secret),
            )
        except httpx.HTTPError as exc:
            raise RampartRequestFailed(0, None, "introspection not reachable") from exc
        if response.status_code != 200:
            raise RampartRequestFailed(response.status_code, None, "introspection failed")
        if response.json().get("active") is not True:
            raise TokenInvalid("revoked")
        return verified

    def decide(
        self, token: str | AccessToken, obj: str, act: str, *, ip: str | None = None
    ) -> Decision:
        """May the caller of ``token`` do ``act`` on ``obj`` (in this service's domain), now?

        ``token`` is the caller's access token as received (verified first, so a forged or
        expired one raises :class:`TokenInvalid` and is never asked about) or the
        :class:`AccessToken` that :meth:`verify` returned."""
        if isinstance(token, str):
            token = self.verify(token)
        auth_time = token.claims.get("auth_time")
        return self.permissions.decide(
            Check(
                subject=token.casbin_subject,
                object=obj,
                action=act,
                roles=token.roles,
                domain=self.domain,
                amr=token.amr,
                auth_time=int(auth_time) if isinstance(auth_time, int) else None,
                ip=ip,
                client_id=token.client_id or None,
            )
        )

    def has_consent(self, subject: str, purpose: str) -> bool:
        """Does ``subject`` currently consent to ``purpose`` (a fideslang data use such as
        ``personalize``)? Never decided is False: ask before personalising, every time."""
        out = self.session.call(
            "GET", CONSENT_CHECK_PATH, params={"subject": subject, "purpose": purpose}
        )
        return bool(out["granted"]) if isinstance(out, dict) else False
