"""Composition: the domain modules that make up the application (models, routers, jobs)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

# Every module declaring ORM models; imported so Base.metadata knows every table.
MODEL_MODULES: tuple[str, ...] = (
    "core.audit.models",
    "core.kms.models",
    "core.jobs.models",
    "iam.accounts.models",
    "iam.mfa.models",
    "iam.sessions.models",
    "iam.keys.models",
    "iam.oauth2.models",
    "vault.models",
    "policies.models",
    "compliance.models",
    "compliance.reviews_models",
    "scanners.models",
    "compliance.gdpr.models",
    "compliance.gdpr.consent_models",
    "compliance.gdpr.connector_models",
    "compliance.gdpr.portal.models",
    "compliance.dashboard.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


# Every module declaring jobs and schedules (core's own built-ins load with core.jobs).
JOB_MODULES: tuple[str, ...] = (
    "iam.accounts.jobs",
    "vault.jobs",
    "compliance.jobs",
    "compliance.reviews_jobs",
    "scanners.jobs",
    "compliance.gdpr.jobs",
)


# Every module exposing a FastAPI `router` the app includes (e.g. "vault.endpoints").
# Order is routing cost: a request walks the routes in this order until one matches (1-2 µs a
# route in FastAPI), so the paths services call by the thousand come first. Routes are distinct
# by path and method, so the order changes nothing else.
ROUTER_MODULES: tuple[str, ...] = (
    "iam.oauth2.endpoints",  # ~15 routes
    "vault.hot_endpoints",  # tokenize and detokenize: lean routes (no dependencies to solve)
    "policies.endpoints",  # /v1/authz/check
    "iam.pages.endpoints",
    "vault.endpoints",
    "vault.proxy.endpoints",
    "vault.proxy.inbound_endpoints",  # /proxy/in: the sender signs, no bearer (docs/vault.md)
    "compliance.endpoints",
    "compliance.reviews_endpoints",
    "compliance.remediation_endpoints",
    "compliance.exports.endpoints",
    "scanners.endpoints",
    "compliance.gdpr.consent_endpoints",
    "compliance.gdpr.endpoints",
    "compliance.gdpr.connector_endpoints",
    "compliance.gdpr.portal.endpoints",  # /privacy pages (sign-in by login or e-mailed code)
    "compliance.dashboard.endpoints",
    "compliance.dashboard.waiver_forms",  # the control page's waive and revoke forms (POST)
    "compliance.dashboard.engagement_endpoints",
)

# Path prefixes whose pages need their own Content-Security-Policy (login pages: style-src 'self',
# form-action 'self'); everything else gets the strict API policy.
_IAM_PAGES_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)  # equal to iam.pages.rendering.PAGES_CSP (tests/iam/pages checks it)
PAGE_CSP_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/login", _IAM_PAGES_CSP),
    ("/logout", _IAM_PAGES_CSP),
    ("/account", _IAM_PAGES_CSP),
    ("/device", _IAM_PAGES_CSP),
    ("/privacy", _IAM_PAGES_CSP),  # compliance.gdpr.portal.endpoints.CSP_BY_PREFIX
    ("/dashboard", _IAM_PAGES_CSP),  # compliance.dashboard.rendering.DASHBOARD_CSP
)

# The one table of body limits other than settings.max_body_bytes (server.body_limit enforces
# them at the edge, 413, before authentication): path prefix -> "module:CONSTANT" holding the
# limit in bytes; the longest matching prefix wins. No endpoint bounds its body itself, except
# the OAuth endpoints' smaller form limit, which is an RFC 6749 invalid_request (iam.oauth2).
BODY_LIMIT_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/v1/vault/", "vault.endpoints:MAX_BODY_BYTES"),  # 1000-value batches
    ("/v1/vault/proxy/", "vault.proxy.forwarding:MAX_PROXY_BODY_BYTES"),
    ("/proxy/in/", "vault.proxy.forwarding:MAX_PROXY_BODY_BYTES"),
)


def domain_routers() -> list[APIRouter]:
    return [importlib.import_module(name).router for name in ROUTER_MODULES]


def body_limits_by_prefix() -> list[tuple[str, int]]:
    limits: list[tuple[str, int]] = []
    for prefix, where in BODY_LIMIT_BY_PREFIX:
        module, constant = where.split(":")
        limits.append((prefix, int(getattr(importlib.import_module(module), constant))))
    return limits
