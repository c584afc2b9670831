"""Client authentication for the fast paths: the credentials of a plainly well-formed request
(client_secret_basic or client_secret_post, parsed exactly as authlib parses them), checked
against the cached client. Anything else is not judged here: the caller falls back to authlib,
which owns every error answer."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import unquote

from iam.oauth2.client_cache import CachedClient
from iam.oauth2.requests import RequestSnapshot

CONFIDENTIAL_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True, slots=True)
class PresentedClient:
    client_id: str
    secret: str = field(repr=False)
    method: str


def single_valued_form(snapshot: RequestSnapshot, allowed: frozenset[str]) -> dict[str, str] | None:
    """The form as a dict when every name is allowed and given once; None otherwise."""
    form: dict[str, str] = {}
    for name, value in snapshot.form:
        if name in form or name not in allowed:
            return None
        form[name] = value
    return form


def presented_client(snapshot: RequestSnapshot, form: dict[str, str]) -> PresentedClient | None:
    """Exactly one way of presenting a secret: HTTP Basic (no client_id/secret in the form) or
    the form pair (no Authorization header). ``client_id``/``client_secret`` are removed from
    ``form`` when used."""
    authorization = snapshot.headers.get("authorization")
    if authorization is not None:
        if "client_id" in form or "client_secret" in form:
            return None
        return _basic(authorization)
    client_id = form.pop("client_id", "")
    secret = form.pop("client_secret", "")
    if not client_id or not secret:
        return None
    return PresentedClient(client_id, secret, "client_secret_post")


def _basic(authorization: str) -> PresentedClient | None:
    # authlib.oauth2.rfc6749.util.extract_basic_authorization, step by step.
    if " " not in authorization:
        return None
    auth_type, auth_token = authorization.split(None, 1)
    if auth_type.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(auth_token).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if ":" not in decoded:
        return None
    client_id, secret = decoded.split(":", 1)
    client_id, secret = unquote(client_id), unquote(secret)
    if not client_id or not secret:
        return None
    return PresentedClient(client_id, secret, "client_secret_basic")


def authenticates(client: CachedClient, presented: PresentedClient) -> bool:
    """The client registered this method and the secret matches (constant time)."""
    return (
        presented.method in CONFIDENTIAL_SECRET_METHODS
        and client.auth_method == presented.method
        and client.secret_matches(presented.secret)
    )
