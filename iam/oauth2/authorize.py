"""The authorization endpoint's flow: validate the request with authlib, send the browser to
/login when there is no (fresh enough) login, ask third-party consent, then issue the code.

An invalid client or redirect_uri gets an error page, never a redirect (no open redirector);
every redirect to the client carries RFC 9207 ``iss``.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.settings import get_settings
from iam.oauth2.authorization_server import AuthorizationServer
from iam.oauth2.discovery import AUTHORIZE_PATH
from iam.oauth2.pages import carry_session_cookie, consent_page, error_page
from iam.oauth2.registered_client import RegisteredClient
from iam.oauth2.requests import RampartOAuth2Request, RequestSnapshot
from iam.oauth2.tokens import Subject
from iam.sessions.service import LoginState, csrf_for, csrf_valid, current_login

LOGIN_PATH = "/login"
# Parameters of the consent form that are ours, not the client's.
_FORM_ONLY = {"decision", "csrf_token"}


def _subject(login: LoginState) -> Subject:
    return Subject(
        user_id=login.user_id,
        auth_time=login.auth_time,
        amr=list(login.amr),
        acr=login.acr,
        sid=str(login.session_id),
    )


def _error_response(
    server: AuthorizationServer, request: RampartOAuth2Request, error: OAuth2Error
) -> Response:
    if not error.redirect_uri:
        return error_page(error.error or "invalid_request", error.get_error_description() or "")
    response: Response = server.handle_error_response(request, error)
    location = response.headers.get("location")
    if location and "iss=" not in (urlsplit(location).query or ""):
        response.headers["location"] = add_params_to_uri(location, {"iss": get_settings().issuer})
    return response


def _login_redirect(params: list[tuple[str, str]]) -> RedirectResponse:
    """To /login, coming back to this request without ``prompt=login`` (else it would loop)."""
    kept: list[tuple[str, str]] = []
    for name, value in params:
        if name in _FORM_ONLY:
            continue
        if name == "prompt":
            value = " ".join(p for p in value.split() if p != "login")
            if not value:
                continue
        kept.append((name, value))
    next_path = AUTHORIZE_PATH + "?" + urlencode(kept)
    return RedirectResponse(LOGIN_PATH + "?" + urlencode({"next": next_path}), status_code=303)


def _login_too_old(login: LoginState, max_age: str | None) -> bool:
    if max_age is None:
        return False
    try:
        seconds = int(max_age)
    except ValueError:
        return True
    return time.time() - login.auth_time.timestamp() > max(seconds, 0)


# RFC 6749 §4.1.1 / Appendix A.3: response_type is ASCII (VSCHAR words); authlib echoes it in an
# error description, which it refuses to build with anything else (a ValueError, not an error).
_RESPONSE_TYPE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def authorize(db: Session, snapshot: RequestSnapshot, http_request: Request) -> Response:
    server = AuthorizationServer(db)
    oauth_request = server.create_oauth2_request(snapshot)
    login = current_login(db, http_request)
    data = oauth_request.payload.data
    if not _RESPONSE_TYPE.fullmatch(str(data.get("response_type", ""))):
        return error_page("invalid_request", "response_type must be ASCII (RFC 6749 A.3)")
    prompts = set(data.get("prompt", "").split())
    try:
        grant = server.get_consent_grant(oauth_request, end_user=_subject(login) if login else None)
    except OAuth2Error as error:
        return _error_response(server, oauth_request, error)

    client: RegisteredClient = grant.client
    params = list(snapshot.query if snapshot.method == "GET" else snapshot.form)
    needs_login = login is None or "login" in prompts or _login_too_old(login, data.get("max_age"))
    if needs_login:
        if "none" in prompts:
            from authlib.oidc.core.errors import LoginRequiredError

            return _error_response(
                server, oauth_request, LoginRequiredError(redirect_uri=grant.redirect_uri)
            )
        return _login_redirect(params)
    assert login is not None  # noqa: S101 - needs_login covers None

    decision = data.get("decision") if snapshot.method == "POST" else None
    if not client.row.first_party:
        if decision is None:
            if "none" in prompts:
                from authlib.oidc.core.errors import ConsentRequiredError

                return _error_response(
                    server, oauth_request, ConsentRequiredError(redirect_uri=grant.redirect_uri)
                )
            return _render_consent(db, http_request, client, login, params, grant.redirect_uri)
        if not csrf_valid(db, http_request, data.get("csrf_token")):
            return error_page(
                "invalid_request", "The form expired; start again from the application."
            )
    grant_user = None if decision == "deny" else _subject(login)
    response: Response = server.create_authorization_response(
        oauth_request, grant_user=grant_user, grant=grant
    )
    return response


def _render_consent(
    db: Session,
    http_request: Request,
    client: RegisteredClient,
    login: LoginState,
    params: list[tuple[str, str]],
    redirect_uri: str,
) -> Response:
    csrf_token = csrf_for(db, http_request)
    parts = urlsplit(redirect_uri)
    page = consent_page(
        client_name=client.row.name,
        email=login.email,
        scopes=(dict(params).get("scope") or "").split(),
        params=[(k, v) for k, v in params if k not in _FORM_ONLY],
        csrf_token=csrf_token,
        redirect_origin=f"{parts.scheme}://{parts.netloc}",
    )
    return carry_session_cookie(page, http_request)
