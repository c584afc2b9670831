"""Errors of the vault proxies. None carries a value, a token or an upstream body.

RampartError (core)
 ├── NotFound (core)                   404
 │    └── RouteNotFound                404  no such proxy route for this tenant and direction
 ├── ValidationFailed (core)           422
 │    ├── RouteInvalid                 422  a route declaration breaks a rule (name, URL, fields)
 │    ├── ProxyBodyInvalid             422  the body is not JSON, or a declared field is no string
 │    └── ProxyPathInvalid             422  the path after the route is not a plain relative path
 ├── Conflict (core)                   409
 │    └── RouteExists                  409
 ├── MethodNotAllowed                  405  the route does not allow this HTTP method
 ├── Unauthenticated (core)            401
 │    └── SignatureInvalid             401  inbound: missing, stale or wrong HMAC signature
 ├── DestinationRefused                403  SSRF guard: a non-public address, scheme or userinfo
 └── UpstreamFailed                    502  unreachable, TLS failure, redirect, oversize answer
      └── UpstreamTimeout              504
"""

from __future__ import annotations

from core.errors import Conflict, NotFound, RampartError, Unauthenticated, ValidationFailed


class RouteNotFound(NotFound):
    slug, title = "vault-proxy-route-not-found", "Proxy route not found"


class RouteInvalid(ValidationFailed):
    slug, title = "vault-proxy-route-invalid", "Proxy route declaration invalid"


class RouteExists(Conflict):
    slug, title = "vault-proxy-route-exists", "Proxy route already exists"


class ProxyBodyInvalid(ValidationFailed):
    slug, title = "vault-proxy-body-invalid", "Proxied body invalid"


class ProxyPathInvalid(ValidationFailed):
    slug, title = "vault-proxy-path-invalid", "Proxied path invalid"


class MethodNotAllowed(RampartError):
    status, slug, title = 405, "vault-proxy-method-not-allowed", "Method not allowed by the route"


class SignatureInvalid(Unauthenticated):
    slug, title = "vault-proxy-signature-invalid", "Request signature invalid"


class DestinationRefused(RampartError):
    status, slug, title = 403, "vault-proxy-destination-refused", "Destination refused"


class UpstreamFailed(RampartError):
    status, slug, title = 502, "vault-proxy-upstream-failed", "Upstream failed"


class UpstreamTimeout(UpstreamFailed):
    status, slug, title = 504, "vault-proxy-upstream-timeout", "Upstream timed out"
