"""Every route the app serves is in its OpenAPI document (a client generator finds every
endpoint: the OIDC provider, the pages and their assets included), and nothing documented is
left unserved."""

from __future__ import annotations

from fastapi.routing import iter_route_contexts

from server.app import OPENAPI_PATH
from tests.server.test_openapi_fuzz import app

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "trace"}
# The document itself is the one route it cannot list.
UNDOCUMENTED = {("GET", OPENAPI_PATH)}


def _served() -> set[tuple[str, str]]:
    served: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path_format or route.path
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                served.add((method, str(path)))
    return served


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_served_route_is_documented_and_every_documented_one_served() -> None:
    served = _served() - UNDOCUMENTED
    assert served, "no routes found: the walk over the app is broken"
    assert sorted(served - _documented()) == []
    assert sorted(_documented() - served) == []


def test_the_oidc_provider_is_documented_with_its_bodies_and_answers() -> None:
    paths = app.openapi()["paths"]
    token = paths["/oauth2/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert "grant_type" in form["required"]
    assert {"200", "400", "401"} <= set(token["responses"])
    for path in (
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
        "/oauth2/authorize",
        "/oauth2/introspect",
        "/oauth2/revoke",
        "/oauth2/userinfo",
        "/oauth2/logout",
        "/oauth2/device_authorization",
    ):
        assert path in paths, path
