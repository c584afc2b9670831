"""RP-initiated logout (OIDC RP-Initiated Logout 1.0): ``id_token_hint`` verified against our
keys (expired hints accepted), ``post_logout_redirect_uri`` matched exactly against the client's
list, ``state`` echoed. Without a hint naming the current user, the user confirms (CSRF-checked)."""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.audit.service import record_event
from core.settings import get_settings
from iam.keys.service import verification_key
from iam.oauth2 import service, token_store
from iam.oauth2.pages import carry_session_cookie, error_page, render
from iam.oauth2.verification import TokenRejected, verify_signed_jwt
from iam.sessions.service import csrf_for, csrf_valid, current_login, end_login

_PARAMS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "ui_locales")


def _hint_claims(db: Session, hint: str) -> dict[str, Any] | None:
    try:
        verified = verify_signed_jwt(hint, keys=lambda kid: verification_key(db, kid))
    except TokenRejected:
        return None
    typ = str(verified.header.get("typ", "JWT")).lower()
    if typ not in ("jwt",) or verified.claims.get("iss") != get_settings().issuer:
        return None
    return verified.claims


def end_session(
    db: Session, params: dict[str, str], http_request: Request, *, method: str
) -> Response:
    hint = params.get("id_token_hint")
    claims = _hint_claims(db, hint) if hint else None
    if hint and claims is None:
        return error_page("invalid_request", "The id_token_hint is not a token this server issued.")
    client_id = params.get("client_id")
    if claims is not None:
        aud = claims.get("aud")
        hinted_client = aud if isinstance(aud, str) else claims.get("azp")
        if client_id and client_id != hinted_client:
            return error_page("invalid_request", "client_id does not match the id_token_hint.")
        client_id = hinted_client if isinstance(hinted_client, str) else None
    redirect_uri = params.get("post_logout_redirect_uri")
    if redirect_uri:
        client = service.get_client(db, client_id) if client_id else None
        if client is None or redirect_uri not in client.post_logout_redirect_uris:
            return error_page("invalid_request", "The post_logout_redirect_uri is not registered.")

    login = current_login(db, http_request)
    hint_names_user = (
        claims is not None and login is not None and claims.get("sub") == str(login.user_id)
    )
    confirmed = method == "POST" and params.get("confirm") == "yes"
    if login is not None and not hint_names_user:
        if not confirmed:
            return _confirmation_page(db, http_request, params)
        if not csrf_valid(db, http_request, params.get("csrf_token")):
            return error_page("invalid_request", "The form expired; sign out again.")

    if redirect_uri:
        target = redirect_uri
        if params.get("state"):
            target = add_params_to_uri(target, {"state": params["state"]})
        response: Response = RedirectResponse(target, status_code=303)
    else:
        response = render("logout.html", done=True)
    if login is not None:
        end_login(db, http_request, response)
        families = token_store.revoke_families_of_session(db, str(login.session_id), "logout")
        record_event(
            db,
            event_type="oauth2.logout",
            actor=f"user:{login.user_id}",
            resource=f"user:{login.user_id}",
            details={"client_id": client_id, "revoked_families": families},
        )
    return response


def _confirmation_page(db: Session, http_request: Request, params: dict[str, str]) -> Response:
    csrf_token = csrf_for(db, http_request)
    page = render(
        "logout.html",
        done=False,
        params=[(k, params[k]) for k in _PARAMS if params.get(k)],
        csrf_token=csrf_token,
    )
    return carry_session_cookie(page, http_request)
