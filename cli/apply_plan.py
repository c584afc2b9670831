"""What `rampart apply` would change (create / update / unchanged per object) and carrying it out
through the domain services, all in the caller's one transaction. Flushes only."""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.apply_consent import (
    ConsentPurposeDeclaration,
    apply_consent_purpose,
    plan_consent_purposes,
)
from cli.apply_document import (
    DsarConnectorDeclaration,
    LoadedDocument,
    RoleDeclaration,
    UserDeclaration,
)
from core.errors import RampartError
from iam.accounts import repository as accounts_repository
from iam.accounts import service as accounts
from iam.accounts.password_rules import generate_password
from iam.oauth2 import service as oauth2
from iam.oauth2.models import OAuth2Client
from iam.oauth2.schemas import ClientSpec
from policies import service as policies

Action = Literal["create", "update", "unchanged"]
Declaration = (
    RoleDeclaration
    | UserDeclaration
    | ClientSpec
    | DsarConnectorDeclaration
    | ConsentPurposeDeclaration
)
POLICY_OBJECT = "policy"


class ApplyFailed(RampartError):
    """A service refused one object of the document; nothing of the document was kept."""

    status, slug, title = 422, "apply-failed", "Configuration could not be applied"


@dataclass(frozen=True, slots=True)
class PlannedChange:
    kind: str  # role, user, client, policy, consent_purpose
    name: str
    action: Action
    location: str  # YAML path, for errors
    changes: tuple[str, ...] = ()  # field names (never values: they may be personal data)
    declaration: Declaration | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(slots=True)
class ApplyOutcome:
    changes: list[PlannedChange]
    client_secrets: dict[str, str] = field(default_factory=dict)  # client name -> secret
    user_passwords: dict[str, str] = field(default_factory=dict)  # email -> generated password
    # GDPR webhook connector name -> generated secret (never one read from the environment)
    connector_secrets: dict[str, str] = field(default_factory=dict)


def _action(exists: bool, changed: list[str]) -> Action:
    if not exists:
        return "create"
    return "update" if changed else "unchanged"


def _plan_role(db: Session, role: RoleDeclaration, location: str) -> PlannedChange:
    row = accounts_repository.get_role(db, role.name)
    changed: list[str] = []
    if row is not None:
        if role.requires_mfa is not None and role.requires_mfa != row.requires_mfa:
            changed.append("requires_mfa")
        if role.description is not None and role.description != row.description:
            changed.append("description")
    action = _action(row is not None, changed)
    return PlannedChange("role", role.name, action, location, (*changed,), role)


def _roles_kept(declared: list[str] | None, current: list[str]) -> list[str] | None:
    """The declared roles plus an Art. 18 restriction the account holds: a restriction is lifted
    through the data-subject request, never by re-applying a document that predates it."""
    from compliance.gdpr.connectors.iam import RESTRICTED_ROLE

    if declared is None or RESTRICTED_ROLE not in current:
        return declared
    return sorted({*declared, RESTRICTED_ROLE})


def _plan_user(db: Session, user: UserDeclaration, location: str) -> PlannedChange:
    row = accounts_repository.get_user_by_email(db, user.email)
    changed: list[str] = []
    if row is not None:
        wanted: dict[str, Any] = {
            "name": (user.name, row.name),
            "email_verified": (user.email_verified, row.email_verified),
            "roles": (_roles_kept(user.roles, row.roles), row.roles),
            "status": (user.status, row.status),
        }
        changed = [key for key, (want, have) in wanted.items() if want is not None and want != have]
    action = _action(row is not None, changed)
    return PlannedChange("user", user.email, action, location, (*changed,), user)


def _find_client(db: Session, name: str) -> OAuth2Client | None:
    return db.execute(select(OAuth2Client).where(OAuth2Client.name == name)).scalar_one_or_none()


def _plan_client(db: Session, spec: ClientSpec, location: str) -> PlannedChange:
    row = _find_client(db, spec.name)
    changed: list[str] = []
    if row is not None:
        compared = (
            "client_type",
            "token_endpoint_auth_method",
            "redirect_uris",
            "post_logout_redirect_uris",
            "grant_types",
            "scopes",
            "audiences",
            "first_party",
            "jwks",
        )
        changed = [name for name in compared if getattr(spec, name) != getattr(row, name)]
        if spec.client_id is not None and spec.client_id != row.client_id:
            changed.append("client_id")
        needs_secret = spec.token_endpoint_auth_method in (
            "client_secret_basic",
            "client_secret_post",
        )
        if needs_secret and row.secret_hash is None:
            changed.append("secret")
    action = _action(row is not None, changed)
    return PlannedChange("client", spec.name, action, location, (*changed,), spec)


def _plan_policy(db: Session, lines: tuple[str, ...]) -> PlannedChange:
    current = policies.snapshot(db)
    added, removed = policies.diff_lines(current.lines, lines)
    action: Action = "unchanged" if not added and not removed else "update"
    if current.version == 0 and action == "update":
        action = "create"
    return PlannedChange(
        POLICY_OBJECT, "rampart", action, "policies", (f"+{len(added)}", f"-{len(removed)}")
    )


def connector_secret_of(declaration: DsarConnectorDeclaration) -> str | None:
    """The secret ``secret_env`` names, or None when the file asks for a generated one."""
    if declaration.secret_env is None:
        return None
    value = os.environ.get(declaration.secret_env)
    if not value:
        raise ApplyFailed(
            f"dsar_connectors ({declaration.name}): the environment variable "
            f"{declaration.secret_env} named by secret_env is not set"
        )
    return value


def _plan_dsar_connector(
    db: Session, declaration: DsarConnectorDeclaration, location: str
) -> PlannedChange:
    from compliance.gdpr import connector_service

    try:
        row = connector_service.find(db, declaration.name)
    except connector_service.ConnectorNotFound:
        row = None
    changed: list[str] = []
    if row is not None:
        if row.kind != declaration.kind:
            raise ApplyFailed(
                f"{location} ({declaration.name}): it is a {row.kind} connector; remove it to "
                f"declare a {declaration.kind} one"
            )
        wanted: dict[str, Any] = {
            "types": (sorted(declaration.types), sorted(json.loads(row.types))),
            "enabled": (declaration.enabled, row.enabled),
            "url": (declaration.url, row.url),
            "instructions": (declaration.instructions, row.instructions),
            "assignee_email": (declaration.assignee_email, row.assignee_email),
        }
        if declaration.kind == "webhook":
            wanted["url"] = (connector_service.validate_url(declaration.url or ""), row.url)
            wanted["timeout_seconds"] = (declaration.timeout_seconds, row.timeout_seconds)
        changed = [key for key, (want, have) in wanted.items() if want != have]
        secret = connector_secret_of(declaration)
        if secret is not None and not hmac.compare_digest(
            secret.encode(), connector_service.secret_of(db, row)
        ):
            changed.append("secret")
    else:
        connector_secret_of(declaration)  # refused now when its variable is missing
    action = _action(row is not None, changed)
    return PlannedChange("dsar_connector", declaration.name, action, location, (*changed,),
                         declaration)  # fmt: skip


def _apply_dsar_connector(
    db: Session, declaration: DsarConnectorDeclaration, change: PlannedChange, actor: str
) -> str | None:
    """Create or update; returns a generated secret (creation without ``secret_env``)."""
    from compliance.gdpr import connector_service

    secret = connector_secret_of(declaration)
    if change.action == "create":
        if declaration.kind == "manual":
            connector_service.create_manual(
                db,
                name=declaration.name,
                instructions=declaration.instructions or "",
                assignee_email=declaration.assignee_email or "",
                types=declaration.types,
                enabled=declaration.enabled,
                actor=actor,
            )
            return None
        _, clear = connector_service.create_webhook(
            db,
            name=declaration.name,
            url=declaration.url or "",
            types=declaration.types,
            secret=secret,
            timeout_seconds=declaration.timeout_seconds,
            enabled=declaration.enabled,
            actor=actor,
        )
        return None if secret is not None else clear
    webhook = declaration.kind == "webhook"
    connector_service.update_connector(
        db,
        declaration.name,
        types=declaration.types,
        enabled=declaration.enabled,
        url=declaration.url if webhook else None,
        timeout_seconds=declaration.timeout_seconds if webhook else None,
        instructions=None if webhook else declaration.instructions,
        assignee_email=None if webhook else declaration.assignee_email,
    )
    if "secret" in change.changes and secret is not None:
        connector_service.rotate_secret(db, declaration.name, secret=secret)
    return None


def plan(db: Session, loaded: LoadedDocument) -> list[PlannedChange]:
    """One entry per declared object, in the order they are applied: roles, users, clients,
    policy (roles first: users name them)."""
    document = loaded.document
    changes = [_plan_role(db, r, f"roles[{i}]") for i, r in enumerate(document.roles)]
    changes += [_plan_user(db, u, f"users[{i}]") for i, u in enumerate(document.users)]
    changes += [_plan_client(db, c, f"clients[{i}]") for i, c in enumerate(document.clients)]
    if loaded.policy_lines is not None:
        changes.append(_plan_policy(db, loaded.policy_lines))
    changes += [
        _plan_dsar_connector(db, c, f"dsar_connectors[{i}]")
        for i, c in enumerate(document.dsar_connectors)
    ]
    changes += plan_consent_purposes(db, document.consent_purposes)
    return changes


def _apply_user(
    db: Session, user: UserDeclaration, change: PlannedChange, generate: bool
) -> str | None:
    """Returns the generated password of a new user, if one was asked for."""
    # A disabled account cannot log in: a password for it would only be one more secret to leak.
    wants_password = generate and change.action == "create" and user.status != "disabled"
    password = generate_password() if wants_password else None
    existing = accounts_repository.get_user_by_email(db, user.email)
    row, _ = accounts.create_user(
        db,
        user.email,
        password=password,
        name=user.name,
        roles=_roles_kept(user.roles, existing.roles if existing is not None else []),
        email_verified=user.email_verified,
    )
    if user.status == "disabled":
        accounts.disable_user(db, row, reason="disabled by rampart apply")
    elif user.status == "active":
        accounts.enable_user(db, row)
    return password


def _policy_reason(loaded: LoadedDocument) -> str:
    section = loaded.document.policies
    return (section.reason if section else None) or f"rampart apply {loaded.path.name}"


def execute(
    db: Session,
    loaded: LoadedDocument,
    *,
    actor: str,
    generate_passwords: bool = False,
) -> ApplyOutcome:
    """Plan, then create or update what differs; unchanged objects are not touched (no audit
    entry, no new secret). A refusal raises ApplyFailed naming the object's YAML path."""
    changes = plan(db, loaded)
    outcome = ApplyOutcome(changes=changes)
    for change in changes:
        if change.action == "unchanged":
            continue
        declaration = change.declaration
        try:
            if isinstance(declaration, RoleDeclaration):
                accounts.ensure_role(
                    db,
                    declaration.name,
                    requires_mfa=declaration.requires_mfa,
                    description=declaration.description,
                )
            elif isinstance(declaration, UserDeclaration):
                password = _apply_user(db, declaration, change, generate_passwords)
                if password is not None:
                    outcome.user_passwords[declaration.email] = password
            elif isinstance(declaration, ClientSpec):
                applied = oauth2.apply_client(db, declaration)
                if applied.client_secret is not None:
                    outcome.client_secrets[declaration.name] = applied.client_secret
            elif isinstance(declaration, DsarConnectorDeclaration):
                generated = _apply_dsar_connector(db, declaration, change, actor)
                if generated is not None:
                    outcome.connector_secrets[declaration.name] = generated
            elif isinstance(declaration, ConsentPurposeDeclaration):
                apply_consent_purpose(db, declaration, actor=actor)
            elif change.kind == POLICY_OBJECT and loaded.policy_lines is not None:
                policies.apply_policy(
                    db, loaded.policy_lines, actor=actor, reason=_policy_reason(loaded)
                )
        except RampartError as exc:
            raise ApplyFailed(f"{change.location} ({change.name}): {exc.detail}") from exc
    return outcome
