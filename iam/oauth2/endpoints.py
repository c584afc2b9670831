"""HTTP endpoints of the provider. The body is read on the event loop; authlib and the database
run in the threadpool, one unit of work per request. Rampart's own handlers (client_credentials,
introspection) run on the event loop and reach the database only on a cache miss. OAuth
endpoints answer in the RFC 6749 error format (never problem+json, never a 500 for a malformed
request)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from core.database import unit_of_work
from core.errors import RampartError
from core.logging import get_logger
from core.settings import get_settings
from core.strict_json import StrictJsonRoute
from iam.keys.service import clear_signing_key_cache, ensure_signing_key, published_jwks
from iam.oauth2 import discovery
from iam.oauth2 import openapi_docs as docs
from iam.oauth2.authorization_server import AuthorizationServer
from iam.oauth2.authorize import authorize
from iam.oauth2.grants.client_credentials import GRANT_TYPE as CLIENT_CREDENTIALS
from iam.oauth2.grants.client_credentials import client_credentials_token
from iam.oauth2.grants.device_code import RampartDeviceAuthorizationEndpoint
from iam.oauth2.introspection import introspect
from iam.oauth2.logout import end_session
from iam.oauth2.pages import error_page
from iam.oauth2.requests import RequestSnapshot
from iam.oauth2.responses import error_answer, oauth_error, token_json
from iam.oauth2.token_endpoints import RevocationEndpoint
from iam.oauth2.userinfo_endpoint import userinfo

router = APIRouter(tags=["oauth2"], route_class=StrictJsonRoute)
log = get_logger(__name__)

# Not a row of server.registry.BODY_LIMIT_BY_PREFIX on purpose: the edge's 413 problem+json
# bounds what is read (RAMPART_MAX_BODY_BYTES); below it, an oversize form is a malformed OAuth
# request, answered in the RFC 6749 error format every OAuth client parses (invalid_request).
MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


OAuthAnswer = Callable[[RequestSnapshot], Awaitable[Response]]


class MalformedRequest(Exception):
    """The HTTP request cannot even be read as OAuth parameters."""


async def _snapshot(request: Request, *, form_required: bool) -> RequestSnapshot:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_TYPE and (form_required or content_type):
            raise MalformedRequest(f"the body must be {FORM_TYPE}")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise MalformedRequest("the body is too large")
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedRequest("the body is not valid form data") from exc
    try:
        query = parse_qsl(request.url.query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest("the query string is not valid") from exc
    if any("\x00" in value for _, value in (*form, *query)):
        # No OAuth parameter holds a NUL, and PostgreSQL text cannot: refused before any lookup.
        raise MalformedRequest("a parameter contains a NUL character")
    issuer = get_settings().issuer
    url = issuer + request.url.path + (("?" + request.url.query) if request.url.query else "")
    return RequestSnapshot(
        method=request.method,
        url=url,
        query=query,
        form=form,
        headers=request.headers,
    )


def _in_transaction(work: Callable[[Any], Response]) -> Response:
    with unit_of_work() as db:
        return work(db)


def _on_authlib(work: Callable[[Any, RequestSnapshot], Response]) -> OAuthAnswer:
    """An endpoint (or grant) of authlib's: its sync work in the threadpool, one transaction."""

    async def answer(snapshot: RequestSnapshot) -> Response:
        return await run_in_threadpool(_in_transaction, lambda db: work(db, snapshot))

    return answer


async def _run_oauth(request: Request, answer: OAuthAnswer) -> Response:
    """Token-style endpoints: JSON errors in RFC 6749 form, 503 when a dependency is down."""
    try:
        snapshot = await _snapshot(request, form_required=True)
    except MalformedRequest as exc:
        return oauth_error("invalid_request", str(exc))
    try:
        return await answer(snapshot)
    except MalformedRequest as exc:  # its text may quote the caller's parameter name
        return oauth_error("invalid_request", str(exc))
    except OAuth2Error as exc:  # raised by Rampart's own handlers (authlib renders its own)
        return error_answer(exc)
    except RampartError as exc:
        if exc.status == 503:
            return oauth_error("temporarily_unavailable", exc.detail, 503)
        log.warning("oauth endpoint refused", path=request.url.path, error=type(exc).__name__)
        return oauth_error("invalid_request", exc.detail)


def _single_valued(snapshot: RequestSnapshot) -> dict[str, str]:
    """The form, each parameter given once (RFC 6749 §3.1, §3.2), else invalid_request."""
    form: dict[str, str] = {}
    for name, value in snapshot.form:
        if name in form:
            raise MalformedRequest(f"'{name}' is given more than once.")
        form[name] = value
    return form


def _authlib_token(db: Any, snapshot: RequestSnapshot) -> Response:
    response: Response = AuthorizationServer(db).create_token_response(snapshot)
    return response


def _device_authorization(db: Any, snapshot: RequestSnapshot) -> Response:
    _single_valued(snapshot)
    server = AuthorizationServer(db)
    return server.create_endpoint_response(  # type: ignore[no-any-return]
        RampartDeviceAuthorizationEndpoint.ENDPOINT_NAME, snapshot
    )


async def _token(snapshot: RequestSnapshot) -> Response:
    """client_credentials is Rampart's (iam.oauth2.grants.client_credentials); the grants for a
    user (authorization_code, refresh_token, device_code) are authlib's."""
    form = _single_valued(snapshot)
    if form.get("grant_type") == CLIENT_CREDENTIALS:
        return await client_credentials_token(snapshot.headers, form)
    return await _on_authlib(_authlib_token)(snapshot)


async def _introspect(snapshot: RequestSnapshot) -> Response:
    return token_json(await introspect(snapshot.headers, _single_valued(snapshot)))


async def token_endpoint(request: Request) -> Response:
    return await _run_oauth(request, _token)


async def introspection_endpoint(request: Request) -> Response:
    return await _run_oauth(request, _introspect)


router.add_api_route(
    discovery.TOKEN_PATH,
    token_endpoint,
    methods=["POST"],
    summary="Token endpoint (RFC 6749 §3.2, OpenID Connect Core §3.1.3)",
    operation_id="oauth2_token",
    response_class=Response,
    responses={200: docs.json_answer(docs.TokenResponse, "Tokens"), **docs.OAUTH_ERRORS},
    openapi_extra=docs.TOKEN_FORM,
)
router.add_api_route(
    discovery.INTROSPECT_PATH,
    introspection_endpoint,
    methods=["POST"],
    summary="Token introspection (RFC 7662)",
    operation_id="oauth2_introspect",
    response_class=Response,
    responses={
        200: docs.json_answer(docs.IntrospectionResponse, "The token's state"),
        **docs.OAUTH_ERRORS,
    },
    openapi_extra=docs.INTROSPECT_FORM,
)


@router.post(
    discovery.DEVICE_AUTHORIZATION_PATH,
    summary="Device authorization (RFC 8628 §3.1)",
    operation_id="oauth2_device_authorization",
    response_class=Response,
    responses={
        200: docs.json_answer(docs.DeviceAuthorizationResponse, "Device and user codes"),
        **docs.OAUTH_ERRORS,
    },
    openapi_extra=docs.DEVICE_FORM,
)
async def device_authorization_endpoint(request: Request) -> Response:
    """RFC 8628 §3.1: a device code for the polling client, a user code for the person."""
    return await _run_oauth(request, _on_authlib(_device_authorization))


@router.post(
    discovery.REVOKE_PATH,
    summary="Token revocation (RFC 7009)",
    operation_id="oauth2_revoke",
    response_class=Response,
    responses={
        200: {"description": "Revoked, or already unknown (RFC 7009 §2.2)"},
        **docs.OAUTH_ERRORS,
    },
    openapi_extra=docs.REVOKE_FORM,
)
async def revocation_endpoint(request: Request) -> Response:
    def work(db: Any, snapshot: RequestSnapshot) -> Response:
        server = AuthorizationServer(db)
        return server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME, snapshot)  # type: ignore[no-any-return]

    return await _run_oauth(request, _on_authlib(work))


_PAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: docs.html_answer("Login, consent or account selection page"),
    302: docs.REDIRECT,
    303: docs.REDIRECT,
    400: docs.html_answer("The request cannot be answered to the client"),
    503: docs.html_answer("A dependency is down"),
}


@router.get(
    discovery.AUTHORIZE_PATH,
    summary="Authorization endpoint (RFC 6749 §3.1, OpenID Connect Core §3.1.2)",
    operation_id="oauth2_authorize",
    response_class=HTMLResponse,
    responses=_PAGE_ANSWERS,
    openapi_extra=docs.AUTHORIZE_PARAMETERS,
)
@router.post(
    discovery.AUTHORIZE_PATH,
    summary="Authorization endpoint, parameters as a form (OpenID Connect Core §3.1.2.1)",
    operation_id="oauth2_authorize_form",
    response_class=HTMLResponse,
    responses=_PAGE_ANSWERS,
    openapi_extra=docs.form_body({}, []),
)
async def authorization_endpoint(request: Request) -> Response:
    try:
        snapshot = await _snapshot(request, form_required=request.method == "POST")
    except MalformedRequest as exc:
        return error_page("invalid_request", str(exc))
    try:
        return await run_in_threadpool(_in_transaction, lambda db: authorize(db, snapshot, request))
    except RampartError as exc:
        return error_page(
            "temporarily_unavailable" if exc.status == 503 else "invalid_request",
            exc.detail,
            exc.status,
        )


_USERINFO: dict[str, Any] = {
    "summary": "UserInfo endpoint (OpenID Connect Core §5.3)",
    "response_class": Response,
    "responses": {
        200: docs.json_answer(docs.UserInfo, "The claims the token's scopes release"),
        401: {"description": "No valid bearer token (WWW-Authenticate: Bearer)"},
        **{k: v for k, v in docs.OAUTH_ERRORS.items() if k != 401},
    },
}


@router.get(discovery.USERINFO_PATH, operation_id="oauth2_userinfo", **_USERINFO)
@router.post(discovery.USERINFO_PATH, operation_id="oauth2_userinfo_post", **_USERINFO)
async def userinfo_endpoint(request: Request) -> Response:
    authorization = request.headers.get("authorization")
    try:
        return await run_in_threadpool(_in_transaction, lambda db: userinfo(db, authorization))
    except RampartError as exc:
        return oauth_error(
            "temporarily_unavailable" if exc.status == 503 else "invalid_request",
            exc.detail,
            exc.status,
        )


@router.get(
    discovery.LOGOUT_PATH,
    summary="RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)",
    operation_id="oauth2_logout",
    response_class=HTMLResponse,
    responses=_PAGE_ANSWERS,
    openapi_extra=docs.LOGOUT_PARAMETERS,
)
@router.post(
    discovery.LOGOUT_PATH,
    summary="RP-initiated logout, parameters as a form",
    operation_id="oauth2_logout_form",
    response_class=HTMLResponse,
    responses=_PAGE_ANSWERS,
    openapi_extra=docs.form_body({}, []),
)
async def end_session_endpoint(request: Request) -> Response:
    try:
        snapshot = await _snapshot(request, form_required=request.method == "POST")
    except MalformedRequest as exc:
        return error_page("invalid_request", str(exc))
    pairs = snapshot.query if request.method == "GET" else snapshot.form
    params = dict(pairs)
    return await run_in_threadpool(
        _in_transaction, lambda db: end_session(db, params, request, method=request.method)
    )


def _metadata_response() -> Response:
    return Response(
        orjson.dumps(discovery.provider_metadata()),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


_METADATA: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: docs.json_answer(docs.ProviderMetadata, "Provider metadata")},
}


@router.get(
    "/.well-known/openid-configuration",
    summary="OpenID Provider metadata (OpenID Connect Discovery 1.0)",
    operation_id="openid_configuration",
    **_METADATA,
)
def openid_configuration() -> Response:
    return _metadata_response()


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
    operation_id="oauth_authorization_server_metadata",
    **_METADATA,
)
def authorization_server_metadata() -> Response:
    return _metadata_response()


@router.get(
    discovery.JWKS_PATH,
    summary="The provider's public keys (RFC 7517)",
    operation_id="jwks",
    response_class=Response,
    responses={
        200: {
            "description": "JSON Web Key Set",
            "content": {
                "application/jwk-set+json": {"schema": docs.JsonWebKeySet.model_json_schema()}
            },
        }
    },
)
def jwks() -> Response:
    with unit_of_work() as db:
        document = published_jwks(db)
        if not document["keys"]:
            ensure_signing_key(db)  # first start: `rampart init` normally made it already
            clear_signing_key_cache()
            document = published_jwks(db)
    # Short: verifiers must see a new key soon after a rotation.
    return Response(
        orjson.dumps(document),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=60"},
    )
