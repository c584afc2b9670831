"""The document `rampart apply -f FILE.yaml` reads: roles, users, clients, policies and consent
purposes, validated as a whole (unknown keys refused, errors named by their YAML path) before
the database is touched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cli.apply_consent import ConsentPurposeDeclaration
from core.errors import RampartError, ValidationFailed
from iam.accounts.exceptions import InvalidEmail
from iam.accounts.service import normalize_email
from iam.oauth2.schemas import ClientSpec
from policies.document import canonical_lines, raw_lines_of_yaml, read_raw_lines

# Keys a YAML author may think of as secrets: refused so that none ends up in a versioned file.
_SECRET_KEYS = frozenset({"password", "password_hash", "client_secret", "secret"})


class DocumentInvalid(ValidationFailed):
    slug, title = "apply-document-invalid", "Configuration document is invalid"


class RoleDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    description: str | None = Field(default=None, max_length=500)
    requires_mfa: bool | None = None


class UserDeclaration(BaseModel):
    """A user as declared; fields left out are left as they are. Never a password."""

    model_config = ConfigDict(extra="forbid")

    email: str
    name: str | None = Field(default=None, max_length=200)
    roles: list[str] | None = None
    email_verified: bool | None = None
    status: Literal["active", "disabled"] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return normalize_email(value)
        except InvalidEmail as exc:
            raise ValueError(exc.detail) from exc

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted(set(value))


class PolicySection(BaseModel):
    """The whole authorization policy: its lines replace the stored ones (a new version)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)
    files: list[str] = Field(default_factory=list)
    description: str | None = None
    zones: dict[str, list[str]] = Field(default_factory=dict)
    policy: list[str] = Field(default_factory=list)


class DsarConnectorDeclaration(BaseModel):
    """A GDPR connector (docs/gdpr.md, "Connectors"). A webhook's secret is never in the file:
    ``secret_env`` names the environment variable holding it, else one is generated on creation
    and printed once."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63)
    kind: Literal["webhook", "manual"]
    types: list[
        Literal["access", "rectification", "erasure", "restriction", "portability", "objection"]
    ] = Field(min_length=1)
    enabled: bool = True
    url: str | None = None
    timeout_seconds: float = Field(default=10.0, ge=0.1, le=120)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    instructions: str | None = None
    assignee_email: str | None = None

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> DsarConnectorDeclaration:
        if self.kind == "webhook" and (
            self.url is None or self.instructions is not None or self.assignee_email is not None
        ):
            raise ValueError("a webhook connector has a url, and no instructions or assignee")
        if self.kind == "manual" and (
            self.instructions is None
            or self.assignee_email is None
            or self.url is not None
            or self.secret_env is not None
        ):
            raise ValueError(
                "a manual connector has instructions and an assignee_email, no url or secret_env"
            )
        return self


def _duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return sorted(repeated)


class ApplyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    roles: list[RoleDeclaration] = Field(default_factory=list)
    users: list[UserDeclaration] = Field(default_factory=list)
    clients: list[ClientSpec] = Field(default_factory=list)
    policies: PolicySection | None = None
    dsar_connectors: list[DsarConnectorDeclaration] = Field(default_factory=list)
    consent_purposes: list[ConsentPurposeDeclaration] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ApplyDocument:
        for section, names in (
            ("roles", [role.name for role in self.roles]),
            ("users", [user.email for user in self.users]),
            ("clients", [client.name for client in self.clients]),
            ("dsar_connectors", [c.name for c in self.dsar_connectors]),
            ("consent_purposes", [purpose.key for purpose in self.consent_purposes]),
        ):
            repeated = _duplicates(names)
            if repeated:
                raise ValueError(f"{section}: declared more than once: {', '.join(repeated)}")
        return self


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    path: Path
    document: ApplyDocument
    policy_lines: tuple[str, ...] | None  # canonical; None when the document has no policies


def yaml_path(location: tuple[int | str, ...]) -> str:
    """('users', 2, 'email') -> 'users[2].email'."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    # The offending value is not echoed: it could be a secret pasted in the wrong place.
    return f"{yaml_path(tuple(error['loc']))}: {message}"


def _refuse_secrets(data: Any, location: tuple[int | str, ...] = ()) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() in _SECRET_KEYS:
                raise DocumentInvalid(
                    f"{yaml_path((*location, str(key)))}: secrets never go in this file "
                    "(use --generate-passwords or the reset flow)"
                )
            _refuse_secrets(value, (*location, str(key)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            _refuse_secrets(item, (*location, index))


def _policy_lines(section: PolicySection, base_dir: Path) -> tuple[str, ...]:
    raw: list[str] = []
    for index, name in enumerate(section.files):
        path = base_dir / name
        try:
            raw.extend(read_raw_lines(path))
        except RampartError as exc:
            raise DocumentInvalid(f"policies.files[{index}]: {exc.detail}") from exc
    inline = section.model_dump(include={"zones", "policy", "description"})
    raw.extend(raw_lines_of_yaml(inline, "policies"))
    try:
        return canonical_lines(raw)
    except RampartError as exc:
        raise DocumentInvalid(f"policies: {exc.detail}") from exc


def parse_document(text: str, path: Path) -> LoadedDocument:
    """The validated document, or DocumentInvalid with one line naming the YAML path."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DocumentInvalid(f"{path}: not valid YAML{where}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DocumentInvalid(f"{path}: the document is a mapping (roles, users, clients, ...)")
    _refuse_secrets(data)
    try:
        document = ApplyDocument.model_validate(data)
    except ValidationError as exc:
        raise DocumentInvalid(_first_error(exc)) from exc
    lines = _policy_lines(document.policies, path.parent) if document.policies is not None else None
    return LoadedDocument(path=path, document=document, policy_lines=lines)


def load_document(path: Path) -> LoadedDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentInvalid(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_document(text, path)
