"""The one settings class (env prefix ``RAMPART_``), built by a cached factory tests override."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# A bind address no client can dial: an issuer derived from it names the loopback instead.
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - compared, not bound
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
        default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
        description=(
            "Public base URL of this server; the OIDC issuer exactly. Unset: "
            "`http://RAMPART_HOST:RAMPART_PORT` of the server (127.0.0.1 for a wildcard host "
            "such as 0.0.0.0), so `serve --port 9000` issues as `http://127.0.0.1:9000`."
        ),
    )
    server_url: str | None = Field(
        default=None,
        description=(
            "Base URL the CLI's `rampart login` reaches the server at (and that data-plane "
            "commands expect the stored login to be for). Unset: the issuer."
        ),
    )
    env: Literal["development", "production", "test"] = Field(
        default="development",
        description=(
            "Deployment environment; `production` refuses insecure defaults (SQLite, the local "
            "key file, a non-https issuer, a generated admin password, an unstated scheduler)."
        ),
    )
    log_level: str = Field(
        default="INFO", description="Root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_json: bool = Field(
        default=True, description="Write logs as one JSON object per line (false: console format)."
    )

    kms: Literal["local", "vault"] = Field(
        default="local",
        description=(
            "Key-encryption key provider: `local` key file or `vault` (OpenBao/Vault Transit)."
        ),
    )
    local_key_file: Path | None = Field(
        default=None,
        description=(
            "Local key-encryption key file (mode 0600). Default: `keys.json` in the data dir."
        ),
    )
    vault_addr: str = Field(
        default="http://127.0.0.1:8200",
        description="OpenBao/Vault address for `RAMPART_KMS=vault`.",
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

    vault_deterministic_types: list[str] = Field(
        default=[],
        description=(
            "Vault token types issued deterministically (same value -> same token per tenant), "
            'as JSON: `["email"]`. Every other type gets random tokens. SAD never.'
        ),
    )
    vault_sad_ttl_seconds: int = Field(
        default=900,
        ge=1,
        le=3600,
        description="Default life of sensitive authentication data tokens (CVC...), at most 1 h.",
    )
    vault_proxy_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Let vault proxy routes reach private and loopback addresses (SSRF guard off for "
            "them; link-local, multicast and reserved addresses stay refused)."
        ),
    )
    vault_proxy_allow_http: bool = Field(
        default=False,
        description="Accept plain `http://` proxy destinations (loopback tests only); else https.",
    )
    vault_proxy_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds a proxied request may take, in total."
    )
    vault_proxy_max_response_bytes: int = Field(
        default=1048576, ge=1024, description="Largest upstream response a proxy route relays."
    )
    vault_proxy_signature_tolerance_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="How old an inbound proxy request's signature timestamp may be (replays).",
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
    demo_password: SecretStr | None = Field(
        default=None,
        description=(
            "Password of the demo shop's compliance officer and auditor, read only by "
            "`rampart demo seed` (unattended set-ups). Unset: each gets a generated one, written "
            "with its TOTP secret to `demo-logins.json` (0600) in the data directory."
        ),
    )

    mail_url: str | None = Field(
        default=None,
        description=(
            "Where Rampart's e-mail goes (verification codes, notices to data subjects): "
            "`smtp://[user@]host:port` (STARTTLS when offered), `smtps://host:port`, or "
            "`file:///dir` (one .eml file per message, 0600). Default: `file://` under the data "
            "directory's `mail/`, for the embedded set-up."
        ),
    )
    mail_password: SecretStr | None = Field(
        default=None, description="SMTP password for the user named in `mail_url`."
    )
    mail_from: str = Field(
        default="rampart@localhost", description="The From address of Rampart's e-mail."
    )
    mail_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for the SMTP server."
    )
    gdpr_officer_email: str | None = Field(
        default=None,
        description=(
            "Where the data-subject request reminders go (requests due within 7 days, overdue "
            "ones, connectors that keep failing). Unset: no reminder mail, the audit entries only."
        ),
    )

    audit_checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign an audit checkpoint after this many new entries."
    )
    audit_checkpoint_seconds: float = Field(
        default=300.0, gt=0, description="...or after this many seconds with new entries."
    )

    host: str = Field(default=DEFAULT_HOST, description="Address `rampart serve` binds to.")
    port: int = Field(
        default=DEFAULT_PORT, ge=1, le=65535, description="Port `rampart serve` binds to."
    )
    workers: int = Field(default=1, ge=1, description="Server worker processes.")
    scheduler: Literal["embedded", "off"] | None = Field(
        default=None,
        description=(
            "`embedded`: scheduler and worker pool run inside `serve`; `off`: external workers "
            "(`rampart worker`). Unset: `embedded`, but production refuses to start until it "
            "is stated."
        ),
    )
    jobs_engine: Literal["database", "dramatiq"] = Field(
        default="database",
        description=(
            "`database`: jobs queue in the database, worked inside `serve`; `dramatiq`: "
            "published to the broker and worked by `rampart worker`."
        ),
    )
    jobs_broker_url: str | None = Field(
        default=None, description="Dramatiq broker (Redis) URL; default: `RAMPART_REDIS_URL`."
    )
    jobs_broker_namespace: str = Field(
        default="rampart", description="Prefix of the broker's keys and queue names."
    )
    jobs_concurrency: int = Field(default=2, ge=1, description="Worker threads per process.")
    jobs_queues: str = Field(
        default="default", description="Comma-separated queues this process works."
    )
    jobs_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often an idle worker looks for queued runs."
    )
    jobs_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A run whose worker stops heartbeating for this long is run again.",
    )
    jobs_max_scheduler_sleep: float = Field(
        default=1.0, gt=0, description="Longest the scheduler sleeps between ticks (seconds)."
    )
    jobs_misfire_grace_seconds: float = Field(
        default=30.0, gt=0, description="A slot later than this counts as missed (catch-up)."
    )
    jobs_max_catch_up_slots: int = Field(
        default=100, ge=1, description="Most missed slots one schedule runs after a restart."
    )
    jobs_republish_after_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Dramatiq: a queued run with no worker after this long is published again.",
    )
    jobs_alert_after_failures: int = Field(
        default=3, ge=1, description="Consecutive failures of a job before a `job.alert` event."
    )
    jobs_run_retention_days: int = Field(
        default=30, ge=1, description="Finished run records older than this are pruned."
    )
    jobs_metrics_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often queue-depth and lag gauges are refreshed."
    )
    jobs_modules: str = Field(
        default="", description="Extra comma-separated modules declaring jobs (plug-ins)."
    )
    hsts_seconds: int = Field(
        default=31536000, ge=0, description="HSTS max-age sent on responses served over https."
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated peer IPs whose X-Forwarded-Proto is believed (`*`: any); empty: none."
        ),
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per HTTP request (the `/metrics` counters exist either way).",
    )

    # Accounts, login sessions and MFA (iam/accounts, iam/sessions, iam/mfa, iam/pages).
    password_hash_memory_kib: int = Field(
        default=19456, ge=8, description="argon2id memory cost in KiB (OWASP: 19456)."
    )
    password_hash_iterations: int = Field(
        default=2, ge=1, description="argon2id time cost (OWASP: 2 with 19 MiB)."
    )
    password_hash_parallelism: int = Field(
        default=1, ge=1, description="argon2id parallelism (OWASP: 1)."
    )
    lockout_threshold: int = Field(
        default=10,
        ge=1,
        le=10,
        description="Consecutive failed logins that lock an account (PCI DSS 8.3.4: at most 10).",
    )
    lockout_minutes: int = Field(
        default=30, ge=30, description="Minutes a locked account stays locked (PCI DSS: >= 30)."
    )
    login_throttle_failures: int = Field(
        default=50,
        ge=1,
        description="Failed logins from one client IP within the window that block it.",
    )
    login_throttle_window_seconds: int = Field(
        default=900, ge=1, description="Window, and block length, of the per-source login throttle."
    )
    session_idle_timeout: int = Field(
        default=900,
        ge=60,
        description="Seconds of inactivity that end a login session (PCI DSS 8.2.8).",
    )
    session_max_lifetime: int = Field(
        default=43200, ge=300, description="Absolute lifetime of a login session in seconds."
    )
    inactive_account_days: int = Field(
        default=90,
        ge=1,
        description="Days without login after which an account is disabled (8.2.6).",
    )
    brand_name: str = Field(default="Rampart", description="Product name shown on login pages.")
    brand_logo_url: str | None = Field(
        default=None, description="Logo on login pages: a same-origin path or a data:image URI."
    )
    brand_color: str = Field(
        default="#1d4ed8",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="Accent colour of login pages (#rrggbb).",
    )

    access_token_ttl: int = Field(
        default=600, ge=30, le=86400, description="Seconds an OAuth access token (JWT) is valid."
    )
    id_token_ttl: int = Field(
        default=600, ge=30, le=86400, description="Seconds an OIDC ID token is valid."
    )
    refresh_token_ttl: int = Field(
        default=2592000,
        ge=300,
        description="Seconds a refresh token family lives from the login that started it.",
    )
    authorization_code_ttl: int = Field(
        default=60, ge=10, le=600, description="Seconds an authorization code can be redeemed."
    )
    signing_alg: Literal["ES256", "EdDSA", "RS256"] = Field(
        default="ES256",
        description=(
            "Algorithm of new token-signing keys (existing keys keep theirs until rotated)."
        ),
    )

    # Vault: no comparison oracles (docs/vault.md, "Comparison scopes and budgets").
    vault_candidate_budget: int = Field(
        default=10000,
        ge=1,
        description=(
            "Comparable vault answers (fingerprints shown, new deterministic tokens) one caller "
            "may get per window; past it: 429 and a `vault.candidate_budget_exceeded` alert."
        ),
    )
    vault_candidate_window_seconds: int = Field(
        default=3600, ge=60, description="Window of `RAMPART_VAULT_CANDIDATE_BUDGET`, in seconds."
    )

    @field_validator(
        "compliance_library", "compliance_webhook_url", "compliance_webhook_secret", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `RAMPART_COMPLIANCE_WEBHOOK_URL=` turns the webhook off, as leaving it out does.
        return None if value == "" else value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level; allowed: {', '.join(LOG_LEVELS)}")
        return level

    @model_validator(mode="after")
    def _issuer_from_bind_address(self) -> Settings:
        # An issuer nobody set follows the port the server really listens on; otherwise every
        # token would name :8000 and every SDK verify() would refuse it as "wrong issuer".
        if "issuer" not in self.model_fields_set:
            self.issuer = derived_issuer(self.host, self.port)
            self.model_fields_set.discard("issuer")  # still not configured: derived
        return self

    # Request bodies (server.body_limit).
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description=(
            "Largest request body accepted, checked before authentication and routing (413); "
            "the vault routes declare their own larger limit."
        ),
    )

    # Compliance checks (compliance/checks): what they probe beyond Rampart itself.
    audit_retention_days: int = Field(
        default=365,
        ge=1,
        description="Days audit-ledger entries are kept (PCI DSS 10.5.1: at least 365).",
    )
    audit_online_days: int = Field(
        default=90,
        ge=1,
        description="Days of the ledger kept immediately available (PCI DSS 10.5.1: at least 90).",
    )
    compliance_tls_endpoints: list[str] = Field(
        default=[],
        description=(
            "`host:port` endpoints the TLS check handshakes with, as JSON; empty: the issuer "
            "when it is https (PCI DSS 4.2.1)."
        ),
    )
    compliance_payment_pages: list[str] = Field(
        default=[],
        description=(
            "URLs of payment pages whose headers and scripts are checked (PCI DSS 6.4.3, 11.6.1),"
            " as JSON; empty: Rampart's own login page."
        ),
    )
    compliance_pan_scan_databases: list[str] = Field(
        default=[],
        description=(
            "Extra database URLs the card-number scan reads (PCI DSS 3.5.1), as JSON; Rampart's "
            "own database is always scanned."
        ),
    )
    compliance_pan_scan_columns: list[str] = Field(
        default=[],
        description=(
            "`table.column` names the scan limits the extra databases to, as JSON; empty: every "
            "text column of every table."
        ),
    )
    compliance_pan_scan_logs: list[str] = Field(
        default=[],
        description=(
            "Log files (glob patterns) the card-number scan reads, as JSON; `*.log` under the data "
            "directory is always read."
        ),
    )
    compliance_processing_records: Path | None = Field(
        default=None,
        description="YAML records of processing activities (GDPR Article 30) the check reads.",
    )
    compliance_library: Path | None = Field(
        default=None,
        description=(
            "Directory of another control library (a shop's own frameworks) used instead of the "
            "built-in PCI DSS v4.0.1 and GDPR library."
        ),
    )
    compliance_webhook_url: str | None = Field(
        default=None,
        description=(
            "URL drift alerts (a control turning failing) are POSTed to, signed with "
            "`RAMPART_COMPLIANCE_WEBHOOK_SECRET`; unset: no webhook."
        ),
    )
    compliance_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key of the drift alerts' `X-Rampart-Signature` header.",
    )

    # GDPR connectors (compliance/gdpr/connectors/): what a shop service's webhook may be.
    gdpr_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Let GDPR webhook connectors resolve to loopback and private addresses (shop services "
            "on the internal network); link-local, multicast and reserved addresses stay refused."
        ),
    )

    # Scanners (scanners/): what a scan may reach, how far it goes, how long findings may stay open.
    scan_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Let scan targets resolve to loopback and private addresses (test shops, staging on a "
            "private network); link-local, multicast and reserved addresses stay refused."
        ),
    )
    scan_max_pages: int = Field(
        default=200, ge=1, le=100_000, description="Pages one built-in scan fetches at most."
    )
    scan_max_depth: int = Field(
        default=5, ge=0, le=50, description="Links followed from the target URL at most."
    )
    scan_max_seconds: float = Field(
        default=300.0, gt=0, description="Wall-clock budget of one built-in scan, in seconds."
    )
    scan_request_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one request a scan sends, in seconds."
    )
    scan_max_response_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest response body a scan reads; the rest is not inspected.",
    )
    scan_sla_critical_days: int = Field(
        default=7, ge=1, description="Days a critical finding may stay open (its SLA)."
    )
    scan_sla_high_days: int = Field(
        default=30, ge=1, description="Days a high-risk finding may stay open (its SLA)."
    )
    scan_sla_medium_days: int = Field(
        default=90, ge=1, description="Days a medium-risk finding may stay open (its SLA)."
    )
    scan_sla_low_days: int = Field(
        default=120, ge=1, description="Days a low-risk finding may stay open (its SLA)."
    )
    scan_wapiti_binary: str = Field(
        default=".venv-wapiti/bin/python",
        description=(
            "Python interpreter of the separate wapiti3 environment (scripts/bootstrap.sh "
            "installs it from deploy/wapiti/requirements.txt); a relative path is taken from "
            "the current directory."
        ),
    )
    scan_wapiti_modules: str = Field(
        default="xss,sql,exec,file,crlf,redirect,permanentxss,ssrf",
        description="Comma-separated wapiti attack modules an active scan runs.",
    )
    scan_zap_url: str = Field(
        default="http://127.0.0.1:8090",
        description="Base URL of the ZAP daemon's API (deploy/compose.yaml runs one).",
    )
    scan_zap_api_key: SecretStr | None = Field(
        default=None, description="API key of the ZAP daemon (ZAP's `api.key`)."
    )
    scan_zap_policy: str = Field(
        default="", description="Name of the ZAP active-scan policy; empty: ZAP's default."
    )
    scan_zap_ajax_spider: bool = Field(
        default=False, description="Run ZAP's Ajax spider after the classic spider."
    )
    scan_zap_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often a ZAP scan's status is polled, in seconds."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rampart.db').resolve()}"

    @property
    def resolved_local_key_file(self) -> Path:
        return self.local_key_file or self.data_dir / "keys.json"


def derived_issuer(host: str, port: int) -> str:
    """The issuer of a server bound to ``host:port`` when none is configured."""
    name = DEFAULT_HOST if host.strip() in _WILDCARD_HOSTS else host.strip()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 literal in a URL
    return f"http://{name}:{port}"


def issuer_mismatch(settings: Settings) -> str | None:
    """A warning when RAMPART_ISSUER names this very server (a loopback name or the bind host)
    on another port than the one it listens on: its tokens would fail every verify() that
    reaches it there. An issuer on another host is a proxy's public URL and is left alone."""
    if "issuer" not in settings.model_fields_set:
        return None
    try:
        parts = urlsplit(settings.issuer)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host not in _LOOPBACK_HOSTS and host != settings.host.strip("[]").lower():
        return None
    if port == settings.port:
        return None
    return (
        f"RAMPART_ISSUER={settings.issuer} names port {port} but the server listens on "
        f"{settings.port}: tokens name that issuer and clients reaching :{settings.port} refuse "
        f"them; set RAMPART_ISSUER to the URL clients use, or unset it "
        f"({derived_issuer(settings.host, settings.port)})"
    )


class InvalidSettings(ValueError):
    """Settings Rampart refuses to run with; ``problems`` holds one line each, naming the
    ``RAMPART_*`` variable to change (never a secret's value)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def _variable(field: str) -> str:
    return f"RAMPART_{field.upper()}"


def _shown_value(field: str, value: Any) -> str:
    info = Settings.model_fields.get(field)
    if info is not None and "SecretStr" in str(info.annotation):
        return "(secret, not shown)"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:80] + "..." if len(text) > 80 else text)


def _is_list(field: str) -> bool:
    info = Settings.model_fields.get(field)
    return info is not None and str(info.annotation).startswith("list[")


def _validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        if not field:  # a model-level check: its message already names the variables
            problems.append(str(error["msg"]))
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        if _is_list(field):
            message += ' (a JSON list is expected, e.g. ["email"])'
        problems.append(f"{_variable(field)}={_shown_value(field, error['input'])}: {message}")
    return problems


_UNPARSED_FIELD = re.compile(r'error parsing value for field "(\w+)"')


def _parse_problem(exc: SettingsError) -> str:
    # pydantic-settings reads list fields as JSON and stops at the first that is not.
    match = _UNPARSED_FIELD.search(str(exc))
    if match is None:
        return f"the settings could not be read: {exc}"
    field = match.group(1)
    raw = next((value for key, value in os.environ.items() if key.upper() == _variable(field)), "")
    return (
        f"{_variable(field)}={_shown_value(field, raw)}: not valid JSON "
        '(a JSON list is expected, e.g. ["email"])'
    )


def load_settings(**values: Any) -> Settings:
    """Settings from the environment (``values`` take precedence), or InvalidSettings with one
    line per problem."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise InvalidSettings(_validation_problems(exc)) from None
    except SettingsError as exc:
        raise InvalidSettings([_parse_problem(exc)]) from None


def production_problems(settings: Settings, *, serving: bool) -> list[str]:
    """What ``RAMPART_ENV=production`` refuses to run with (``serving``: the API server, which
    would also host the scheduler), one line each naming the setting to change."""
    if settings.env != "production":
        return []
    problems = []
    if settings.resolved_database_url.startswith("sqlite"):
        problems.append(
            "RAMPART_DATABASE_URL: SQLite is the one-machine default; production needs "
            "PostgreSQL (postgresql+psycopg://user@host/db)"
        )
    if settings.kms == "local":
        problems.append(
            "RAMPART_KMS=local keeps the key-encryption key in a file beside the data; "
            "production needs RAMPART_KMS=vault (OpenBao/Vault Transit)"
        )
    if not settings.issuer.startswith("https://"):
        problems.append(
            f"RAMPART_ISSUER={settings.issuer}: production needs the public https:// URL "
            "clients reach (logins and tokens must not travel in clear)"
        )
    if serving and settings.scheduler is None:
        problems.append(
            "RAMPART_SCHEDULER is unset: say where jobs are scheduled, `embedded` (inside "
            "this API server) or `off` (in `rampart worker` processes)"
        )
    return problems


def refuse_insecure_production(settings: Settings, *, serving: bool) -> None:
    """InvalidSettings when :func:`production_problems` finds any."""
    problems = production_problems(settings, serving=serving)
    if problems:
        raise InvalidSettings(problems)


@functools.cache
def get_settings() -> Settings:
    return load_settings()
