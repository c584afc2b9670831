"""The one settings class (env prefix ``RAMPART_``), built by a cached factory tests override."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every field is documented here and in docs/configuration.md (a test keeps them equal)."""

    model_config = SettingsConfigDict(
        env_prefix="RAMPART_",
        env_file=None,
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("./var"),
        description="Directory for the SQLite file, the local key file, checkpoints and exports.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL. Default: SQLite `rampart.db` in the data directory. "
            "Production: `postgresql+psycopg://user@host/db`."
        ),
    )
    issuer: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base URL of this server; the OIDC issuer exactly.",
    )
    env: Literal["development", "production", "test"] = Field(
        default="development",
        description="Deployment environment; `production` refuses insecure defaults.",
    )
    log_level: str = Field(default="INFO", description="Root log level (DEBUG, INFO, WARNING...).")
    log_json: bool = Field(
        default=True, description="Write logs as one JSON object per line (false: console format)."
    )

    kms: Literal["local", "vault"] = Field(
        default="local",
        description="Key-encryption key provider: `local` key file or `vault` (OpenBao/Vault Transit).",
    )
    local_key_file: Path | None = Field(
        default=None,
        description="Local key-encryption key file (mode 0600). Default: `keys.json` in the data dir.",
    )
    vault_addr: str = Field(
        default="http://127.0.0.1:8200", description="OpenBao/Vault address for `RAMPART_KMS=vault`."
    )
    vault_token: SecretStr | None = Field(
        default=None, description="Vault token (token auth). Leave empty to use AppRole."
    )
    vault_role_id: str | None = Field(default=None, description="AppRole role_id (AppRole auth).")
    vault_secret_id: SecretStr | None = Field(
        default=None, description="AppRole secret_id (AppRole auth)."
    )
    vault_approle_mount: str = Field(default="approle", description="AppRole auth mount path.")
    vault_transit_mount: str = Field(default="transit", description="Transit engine mount path.")
    vault_transit_key: str = Field(
        default="rampart-kek", description="Transit key that wraps data-encryption keys."
    )
    vault_signing_key: str = Field(
        default="rampart-signing",
        description="Transit key (ed25519) that signs audit checkpoints when `RAMPART_KMS=vault`.",
    )
    vault_timeout: float = Field(
        default=5.0, description="Seconds before a Vault request counts as unreachable."
    )
    key_cache_size: int = Field(
        default=1024, ge=0, description="How many unwrapped data-encryption keys to keep in memory."
    )
    key_cache_ttl: float = Field(
        default=300.0, ge=0, description="Seconds an unwrapped data-encryption key stays cached."
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis URL (`redis://host:6379/0`); required for multi-replica deployments.",
    )
    admin_password: SecretStr | None = Field(
        default=None, description="First admin's password, read only by `rampart init`."
    )
    admin_email: str = Field(
        default="admin@localhost", description="First admin's email when `init` is given none."
    )

    audit_checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign an audit checkpoint after this many new entries."
    )
    audit_checkpoint_seconds: float = Field(
        default=300.0, gt=0, description="...or after this many seconds with new entries."
    )

    host: str = Field(default="127.0.0.1", description="Address `rampart serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `rampart serve` binds to.")
    workers: int = Field(default=1, ge=1, description="Server worker processes.")
    scheduler: Literal["embedded", "off"] = Field(
        default="embedded",
        description="`embedded`: scheduler and worker pool run inside `serve`; `off`: external workers.",
    )
    hsts_seconds: int = Field(
        default=31536000, ge=0, description="HSTS max-age sent on responses served over https."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rampart.db').resolve()}"

    @property
    def resolved_local_key_file(self) -> Path:
        return self.local_key_file or self.data_dir / "keys.json"


@functools.cache
def get_settings() -> Settings:
    return Settings()
