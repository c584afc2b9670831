"""Proxy routes as declared configuration: name, direction, allow-listed destination, methods,
the JSON fields to detokenize (outbound, for a declared purpose) or tokenize (inbound), and the
inbound route's signing secret (a KMS data key). Services flush; the caller commits."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.errors import NotFound, RampartError
from core.kms.exceptions import DataKeyDestroyed
from core.kms.service import create_data_key, destroy_data_key, load_data_key
from core.settings import get_settings
from vault.access import PURPOSE
from vault.formats import parse_format
from vault.models import VaultProxyRoute
from vault.proxy.destinations import parse_destination, refusal_reason
from vault.proxy.exceptions import RouteExists, RouteInvalid, RouteNotFound
from vault.proxy.fields import FieldPath, parse_path
from vault.types import parse_type

Direction = Literal["outbound", "inbound"]
DIRECTIONS: tuple[Direction, ...] = ("outbound", "inbound")
ROUTE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
FORWARDABLE_METHODS = ("POST", "PUT", "PATCH")
MAX_FIELDS = 50
SECRET_PREFIX = "rps_"  # noqa: S105 - a prefix naming the kind of secret, not a secret
SECRET_KEY_PURPOSE = "vault.proxy.inbound"  # noqa: S105 - a KMS key purpose label


@dataclass(frozen=True, slots=True)
class FieldRule:
    path: FieldPath
    token_type: str
    format: str | None = None  # inbound: the token format to issue


@dataclass(frozen=True, slots=True)
class RouteDeclaration:
    """What an operator declares (CLI, API, `rampart apply`)."""

    name: str
    direction: str
    destination: str
    fields: Sequence[dict[str, Any]]
    methods: Sequence[str] = ("POST",)
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    id: UUID
    tenant: str
    name: str
    direction: Direction
    destination: str
    methods: tuple[str, ...]
    fields: tuple[FieldRule, ...]
    purpose: str | None
    secret_key_id: UUID | None
    created_at: datetime

    def describe(self) -> dict[str, Any]:
        """A JSON-ready view for listings: never the inbound secret."""
        return {
            "name": self.name,
            "tenant": self.tenant,
            "direction": self.direction,
            "destination": self.destination,
            "methods": list(self.methods),
            "fields": [
                {"path": f.path.text, "type": f.token_type, "format": f.format} for f in self.fields
            ],
            "purpose": self.purpose,
            "signed": self.secret_key_id is not None,
            "created_at": self.created_at.isoformat(),
        }


def create_route(
    session: Session, *, tenant: str, declaration: RouteDeclaration, actor: str | None = None
) -> tuple[ProxyRoute, str | None]:
    """Store a validated route; an inbound route also gets its signing secret, returned here
    once (only its KMS-wrapped form is stored)."""
    row = _validated_row(tenant, declaration)
    if _find(session, tenant, row.name) is not None:
        raise RouteExists(f"a proxy route named {row.name!r} exists")
    secret: str | None = None
    if row.direction == "inbound":
        key_id, key = create_data_key(session, SECRET_KEY_PURPOSE)
        row.secret_key_id, secret = key_id, _secret_text(key)
    row.created_by = actor
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name
        raise RouteExists(f"a proxy route named {row.name!r} exists") from exc
    route = _route_of(row)
    record_event(
        session,
        event_type="vault.proxy.route_created",
        resource=f"vault:proxy:{route.name}",
        details={k: v for k, v in route.describe().items() if k != "created_at"},
        actor=actor,
    )
    return route, secret


def list_routes(session: Session, *, tenant: str) -> list[ProxyRoute]:
    rows = session.scalars(
        select(VaultProxyRoute)
        .where(VaultProxyRoute.tenant == tenant)
        .order_by(VaultProxyRoute.name)
    )
    return [_route_of(row) for row in rows]


def get_route(session: Session, *, tenant: str, name: str, direction: Direction) -> ProxyRoute:
    row = _find(session, tenant, name)
    if row is None or row.direction != direction:
        raise RouteNotFound(f"no {direction} proxy route of that name")
    return _route_of(row)


def delete_route(
    session: Session, *, tenant: str, name: str, actor: str | None = None
) -> ProxyRoute:
    """Remove a route; an inbound route's secret key is destroyed with it."""
    row = _find(session, tenant, name)
    if row is None:
        raise RouteNotFound("no proxy route of that name")
    route = _route_of(row)
    session.delete(row)
    session.flush()
    if route.secret_key_id is not None:
        destroy_data_key(session, route.secret_key_id)
    record_event(
        session,
        event_type="vault.proxy.route_deleted",
        resource=f"vault:proxy:{route.name}",
        details={"name": route.name, "direction": route.direction},
        actor=actor,
    )
    return route


def rotate_inbound_secret(
    session: Session, *, tenant: str, name: str, actor: str | None = None
) -> str:
    """A new signing secret for an inbound route (returned once); the old one stops working."""
    row = _find(session, tenant, name)
    if row is None or row.direction != "inbound":
        raise RouteNotFound("no inbound proxy route of that name")
    old = row.secret_key_id
    key_id, key = create_data_key(session, SECRET_KEY_PURPOSE)
    row.secret_key_id = key_id
    session.flush()
    if old is not None:
        destroy_data_key(session, old)
    record_event(
        session,
        event_type="vault.proxy.secret_rotated",
        resource=f"vault:proxy:{name}",
        details={"name": name},
        actor=actor,
    )
    return _secret_text(key)


def signing_secret(session: Session, route: ProxyRoute) -> bytes:
    """The HMAC key of an inbound route: the secret text the sender was given, as bytes."""
    if route.secret_key_id is None:
        raise RouteNotFound("no inbound proxy route of that name")
    try:
        key = load_data_key(session, route.secret_key_id)
    except (NotFound, DataKeyDestroyed) as exc:  # destroyed or missing: the route cannot be called
        raise RouteNotFound("no inbound proxy route of that name") from exc
    return _secret_text(key).encode()


def _secret_text(key: bytes) -> str:
    return SECRET_PREFIX + base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def _find(session: Session, tenant: str, name: str) -> VaultProxyRoute | None:
    return session.scalars(
        select(VaultProxyRoute).where(
            VaultProxyRoute.tenant == tenant, VaultProxyRoute.name == name
        )
    ).first()


def _validated_row(tenant: str, declaration: RouteDeclaration) -> VaultProxyRoute:
    settings = get_settings()
    if not ROUTE_NAME.match(declaration.name):
        raise RouteInvalid("a route name is 2-63 characters: lower case letters, digits, dashes")
    if declaration.direction not in DIRECTIONS:
        raise RouteInvalid("direction is `outbound` or `inbound`")
    destination = parse_destination(
        declaration.destination, allow_http=settings.vault_proxy_allow_http
    )
    literal_refusal = _literal_refusal(
        destination.host, settings.vault_proxy_allow_private_networks
    )
    if literal_refusal:
        raise RouteInvalid(f"the destination is a {literal_refusal} address")
    methods = sorted({m.upper() for m in declaration.methods})
    if not methods or any(m not in FORWARDABLE_METHODS for m in methods):
        raise RouteInvalid(f"methods are among {', '.join(FORWARDABLE_METHODS)}")
    rules = _field_rules(declaration)
    purpose = declaration.purpose
    if declaration.direction == "outbound":
        if not PURPOSE.match(purpose or ""):
            raise RouteInvalid(
                "an outbound route declares its detokenize purpose, e.g. payment.authorize"
            )
    elif purpose is not None:
        raise RouteInvalid("only outbound routes have a purpose")
    elif methods != ["POST"]:
        raise RouteInvalid("inbound routes receive POST only")
    return VaultProxyRoute(
        tenant=tenant,
        name=declaration.name,
        direction=declaration.direction,
        destination=str(destination),
        methods=methods,
        fields=[{"path": r.path.text, "type": r.token_type, "format": r.format} for r in rules],
        purpose=purpose,
    )


def _literal_refusal(host: str, allow_private: bool) -> str | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: vetted on every forward, once resolved
    return refusal_reason(address, allow_private=allow_private)


def _field_rules(declaration: RouteDeclaration) -> list[FieldRule]:
    if not 1 <= len(declaration.fields) <= MAX_FIELDS:
        raise RouteInvalid(f"declare 1 to {MAX_FIELDS} fields")
    rules: list[FieldRule] = []
    for declared in declaration.fields:
        if not isinstance(declared, dict) or set(declared) - {"path", "type", "format"}:
            raise RouteInvalid("a field is {path, type[, format]}")
        path = parse_path(str(declared.get("path", "")))
        try:
            spec = parse_type(str(declared.get("type", "")))
            fmt = declared.get("format")
            if fmt is not None:
                if declaration.direction != "inbound":
                    raise RouteInvalid("only inbound fields choose a token format")
                parse_format(spec, str(fmt))
        except RouteInvalid:
            raise
        except RampartError as exc:
            raise RouteInvalid(f"field {path.text}: {exc.detail}") from exc
        rules.append(FieldRule(path, spec.type.value, None if fmt is None else str(fmt)))
    if len({r.path.text for r in rules}) != len(rules):
        raise RouteInvalid("a field path is declared twice")
    return rules


def _route_of(row: VaultProxyRoute) -> ProxyRoute:
    direction: Direction = "inbound" if row.direction == "inbound" else "outbound"
    return ProxyRoute(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        direction=direction,
        destination=row.destination,
        methods=tuple(row.methods),
        fields=tuple(
            FieldRule(parse_path(str(f["path"])), str(f["type"]), f.get("format"))
            for f in row.fields
        ),
        purpose=row.purpose,
        secret_key_id=row.secret_key_id,
        created_at=row.created_at,
    )
