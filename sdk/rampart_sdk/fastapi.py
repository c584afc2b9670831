"""FastAPI dependencies: ``Depends(require("orders", "read"))`` verifies the bearer token locally
and asks Rampart's decision API; 401 without a valid token, 403 when the policy says no.

Install once: ``install(app, Rampart(...))``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request

from rampart_sdk.client import Rampart
from rampart_sdk.errors import RampartUnavailable, TokenInvalid
from rampart_sdk.tokens import AccessToken

_STATE_KEY = "rampart"


def install(app: FastAPI, rampart: Rampart) -> None:
    setattr(app.state, _STATE_KEY, rampart)


def _rampart_of(request: Request) -> Rampart:
    rampart = getattr(request.app.state, _STATE_KEY, None)
    if not isinstance(rampart, Rampart):
        raise HTTPException(503, "authorization is not configured")  # fail closed
    return rampart


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "a bearer access token is required", {"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


def authenticated(*, introspect: bool = False) -> Callable[[Request], AccessToken]:
    """A dependency yielding the verified token (``introspect``: also ask for revocation)."""

    def dependency(request: Request) -> AccessToken:
        rampart = _rampart_of(request)
        token = _bearer(request)
        try:
            return rampart.introspect(token) if introspect else rampart.verify(token)
        except TokenInvalid as exc:
            raise HTTPException(
                401, f"invalid access token: {exc.reason}", {"WWW-Authenticate": "Bearer"}
            ) from exc
        except RampartUnavailable as exc:
            raise HTTPException(503, "Rampart is unavailable") from exc

    return dependency


def require(obj: str, act: str, *, introspect: bool = False) -> Callable[[Request], AccessToken]:
    """A dependency allowing the request only when Rampart's policy allows ``act`` on ``obj``."""
    verify = authenticated(introspect=introspect)

    def dependency(request: Request) -> AccessToken:
        token = verify(request)
        rampart = _rampart_of(request)
        ip = request.client.host if request.client is not None else None
        try:
            decision = rampart.decide(token, obj, act, ip=ip)
        except RampartUnavailable as exc:
            raise HTTPException(503, "Rampart is unavailable") from exc
        if not decision.allowed:
            raise HTTPException(403, f"{act} on {obj} is not allowed")
        request.state.access_token = token
        return token

    dependency.rampart_permission = (obj, act)  # type: ignore[attr-defined]
    return dependency


__all__ = ["authenticated", "install", "require"]
