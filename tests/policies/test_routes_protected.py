"""Rampart protects itself: every route of the full app declares its object and action through
``core.authz.authorize()`` (or, for a lean route that guards itself with
``core.authz.grant_access``, ``declare_permission`` on its endpoint), except an explicit public
list; every /v1 route without exception. A new unguarded route fails this test, and every /v1
route must really refuse a caller without a token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from core.authz import permission_of
from core.settings import Settings, get_settings
from server.app import create_app
from tests.policies.authz_support import api, authz_settings

__all__ = ["api", "authz_settings"]  # fixtures used by name

# (method, path) served without a bearer token, each for a reason: discovery and keys are public
# by their RFCs, OAuth endpoints authenticate clients themselves, login and account pages run on
# the login session, probes and docs carry no data.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/openapi.json"),
        ("HEAD", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/assets/{name}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/oauth2/token"),
        ("POST", "/oauth2/introspect"),
        ("POST", "/oauth2/revoke"),
        ("POST", "/oauth2/device_authorization"),  # RFC 8628: authenticates the client itself
        ("GET", "/device"),  # the RFC 8628 verification page, on the login session
        ("POST", "/device"),
        ("GET", "/oauth2/authorize"),
        ("POST", "/oauth2/authorize"),
        ("GET", "/oauth2/userinfo"),  # bearer-authenticated by its own RFC (OIDC Core 5.3)
        ("POST", "/oauth2/userinfo"),
        ("GET", "/oauth2/logout"),
        ("POST", "/oauth2/logout"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/login/mfa"),
        ("POST", "/login/mfa"),
        ("POST", "/login/mfa/webauthn/options"),
        ("POST", "/login/mfa/webauthn/verify"),
        ("GET", "/logout"),
        ("POST", "/logout"),
        ("GET", "/account"),
        ("GET", "/account/totp"),
        ("POST", "/account/totp"),
        ("POST", "/account/recovery-codes"),
        ("POST", "/account/webauthn/options"),
        ("POST", "/account/webauthn/verify"),
        ("GET", "/assets/iam/brand.css"),
        ("GET", "/assets/iam/{name}"),
        ("GET", "/privacy"),  # the privacy portal's sign-in (login link or e-mailed code)
        ("POST", "/privacy/sign-in/email"),
        ("POST", "/privacy/sign-in/code"),
        ("GET", "/privacy/assets/portal.css"),
        ("GET", "/dashboard/assets/{name}"),  # the dashboard's stylesheet, no data
        # A gateway's webhook holds no bearer token: the route's HMAC signature authenticates it
        # before anything is tokenized (vault.proxy.inbound; tests/vault/test_proxy_forwarding.py).
        ("POST", "/proxy/in/{tenant}/{route}/{path:path}"),
    }
)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def route_permissions(app: FastAPI) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(method, path) -> the (object, action) guards of every route the app serves."""
    table: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for context in iter_route_contexts(app.routes):
        path = context.path
        assert path is not None, f"a route without a path: {context.original_route!r}"
        dependant: Dependant | None = getattr(context, "dependant", None)
        guards = []
        if dependant is not None:
            calls = [dependant.call, *_calls(dependant)] if dependant.call else _calls(dependant)
            guards = [p for p in map(permission_of, calls) if p is not None]
        for method in sorted(context.methods or {"*"}):
            table[(method, path)] = guards
    return table


@pytest.fixture(scope="module")
def full_app() -> FastAPI:
    get_settings.cache_clear()
    return create_app(Settings())


def test_every_route_outside_the_public_list_has_a_guard(full_app: FastAPI) -> None:
    table = route_permissions(full_app)
    assert len(table) > len(PUBLIC_ROUTES)  # the walk saw the domain routers
    unguarded = sorted(key for key, guards in table.items() if not guards)
    assert [key for key in unguarded if key not in PUBLIC_ROUTES] == []


def test_every_v1_route_has_exactly_one_guard(full_app: FastAPI) -> None:
    table = route_permissions(full_app)
    v1 = {key: guards for key, guards in table.items() if key[1].startswith("/v1/")}
    assert ("POST", "/v1/authz/check") in v1 and ("POST", "/v1/vault/pan/detokenize") in v1
    assert {key: guards for key, guards in v1.items() if len(guards) != 1} == {}
    assert not [key for key in v1 if key in PUBLIC_ROUTES]
    assert v1[("POST", "/v1/vault/pan/detokenize")] == [("vault:pan", "detokenize")]
    assert v1[("POST", "/v1/vault/email/tokens/batch")] == [("vault:email", "tokenize")]


def test_the_public_list_names_only_routes_that_exist(full_app: FastAPI) -> None:
    # A stale entry would silently exempt a route added later under the same path.
    assert sorted(PUBLIC_ROUTES - set(route_permissions(full_app))) == []


def test_the_walk_fails_on_a_new_unguarded_route() -> None:
    app = create_app(Settings())

    @app.get("/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    unguarded = [key for key, guards in route_permissions(app).items() if not guards]
    assert ("GET", "/v1/forgotten") in unguarded


def test_every_v1_route_refuses_a_caller_without_a_token(api: TestClient) -> None:
    """Not only declared: the guard runs before anything else the route does."""
    paths = [key for key in route_permissions(api.app) if key[1].startswith("/v1/")]  # type: ignore[arg-type]
    assert paths
    for method, path in paths:
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = api.request(method, url, json={})
        assert response.status_code == 401, (method, path, response.status_code)
