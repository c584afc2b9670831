"""Client credentials grant (RFC 6749 §4.4): a service authenticates as itself and receives an
RFC 9068 JWT access token, no refresh token. Served on the event loop from the cached client and
signing key (a miss warms them in the threadpool); the token is handed out only once its audit
entry is committed by the group-commit writer (else 503 temporarily_unavailable)."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.oauth2.rfc6749 import InvalidScopeError, UnauthorizedClientError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from core.audit.writer import record_event_committed
from core.database import unit_of_work
from core.errors import RampartError
from iam.keys.service import LoadedSigningKey, active_signing_key, cached_active_signing_key
from iam.oauth2.client_auth import CONFIDENTIAL_METHODS, authenticate_client, presented_client
from iam.oauth2.grants.issuing import target_audience
from iam.oauth2.responses import oauth_error, token_json
from iam.oauth2.tokens import sign_access_token

GRANT_TYPE = "client_credentials"


def _load_signing_key() -> LoadedSigningKey:
    with unit_of_work() as db:  # the first key of a fresh install is created here
        return active_signing_key(db)


async def client_credentials_token(headers: Mapping[str, str], form: Mapping[str, str]) -> Response:
    """The token response; raises authlib's OAuth2Error subclasses for RFC 6749 §5.2 errors.
    ``form`` holds each parameter once (the endpoint refused repeated ones)."""
    client = await authenticate_client(presented_client(headers, form), CONFIDENTIAL_METHODS)
    if GRANT_TYPE not in client.grant_types:
        raise UnauthorizedClientError(
            f"The client is not authorized to use 'grant_type={GRANT_TYPE}'"
        )
    scope = client.allowed_scope(form.get("scope"))
    if scope is None:
        raise InvalidScopeError()
    audience = target_audience(list(client.audiences), scope, form.get("resource"))
    key = cached_active_signing_key()
    if key is None:
        key = await run_in_threadpool(_load_signing_key)
    access_token, issued, ttl = sign_access_token(
        key, client_id=client.client_id, subject=None, scope=scope, audience=audience
    )
    try:
        await record_event_committed(
            event_type="oauth2.token.issued",
            actor=f"client:{client.client_id}",
            resource=f"oauth2_client:{client.client_id}",
            details={
                "client_id": client.client_id,
                "grant_type": GRANT_TYPE,
                "jti": issued.jti,
                "scope": scope,
            },
        )
    except RampartError as exc:  # not audited: the token is never handed out
        return oauth_error("temporarily_unavailable", exc.detail, 503)
    return token_json(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}
    )
