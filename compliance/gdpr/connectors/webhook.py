"""A shop service's webhook (protocol ``rampart.dsar/1``, docs/gdpr.md "Connectors"): Rampart
POSTs the request as JSON, signed ``Rampart-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``, to an address vetted by the vault's guard (``pin``) and pinned for the call;
the service answers 200 with an outcome (validated strictly) or 202 (pending, asked again).

Connect errors and 5xx are retried a few times with backoff inside one call; what still fails is
``failed`` with a detail naming what went wrong and nothing of the secret or the subject, and the
workflow asks again on its next run."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import (
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    LegalHold,
    ProcessingInfo,
    RequestType,
)
from core.errors import RampartError
from core.sensitive import contains_card_number
from core.settings import get_settings
from vault.proxy.destinations import PinnedTarget, pin

PROTOCOL = "rampart.dsar/1"
SIGNATURE_HEADER = "Rampart-Signature"
USER_AGENT = "Rampart-DSAR/1"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.2  # doubled after each failed try: 0.2 s, 0.4 s
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_DETAIL = 500


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Rampart-Signature`` header value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def request_body(request: ConnectorRequest) -> bytes:
    return json.dumps(
        {
            "protocol": PROTOCOL,
            "request_id": str(request.request_id),
            "type": request.type,
            "subject": request.subject.subject,
            "email": request.subject.email,
            "changes": dict(request.changes),
            "purposes": list(request.purposes),
        },
        separators=(",", ":"),
    ).encode()


def ping_body(request_id: UUID) -> bytes:
    """The body of a connector test: no subject, type ``ping``."""
    return json.dumps(
        {
            "protocol": PROTOCOL,
            "request_id": str(request_id),
            "type": "ping",
            "subject": "",
            "email": None,
            "changes": {},
            "purposes": [],
        },
        separators=(",", ":"),
    ).encode()


# -- the answer, validated strictly ----------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DatasetAnswer(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    records: list[dict[str, Any]] = Field(max_length=1_000_000)
    categories: list[str] = Field(default_factory=list, max_length=100)


class HoldAnswer(_Strict):
    what: str = Field(min_length=1, max_length=500)
    legal_basis: str = Field(min_length=1, max_length=500)
    retention: str = Field(min_length=1, max_length=200)


class InfoAnswer(_Strict):
    purposes: list[str] = Field(max_length=100)
    categories: list[str] = Field(max_length=200)
    recipients: list[str] = Field(max_length=100)
    retention: str = Field(max_length=500)
    source: str = Field(max_length=500)


class WebhookAnswer(_Strict):
    status: Literal["done", "not_applicable", "pending", "failed"]
    rows_affected: int = Field(default=0, ge=0)
    method: str = Field(default="", max_length=100)
    datasets: list[DatasetAnswer] = Field(default_factory=list, max_length=100)
    holds: list[HoldAnswer] = Field(default_factory=list, max_length=100)
    info: InfoAnswer | None = None
    detail: str = Field(default="", max_length=2000)


def _clean_detail(text: str) -> str:
    """The service's own words, bounded; dropped if they hold a card number."""
    text = " ".join(text.split())[:MAX_DETAIL]
    return "" if contains_card_number(text) else text


def outcome_of(name: str, answer: WebhookAnswer) -> ConnectorOutcome:
    info = answer.info
    return ConnectorOutcome(
        connector=name,
        status=answer.status,
        rows_affected=answer.rows_affected,
        method=answer.method,
        datasets=tuple(
            Dataset(d.name, tuple(d.records), tuple(d.categories)) for d in answer.datasets
        ),
        holds=tuple(LegalHold(h.what, h.legal_basis, h.retention) for h in answer.holds),
        info=ProcessingInfo(
            tuple(info.purposes),
            tuple(info.categories),
            tuple(info.recipients),
            info.retention,
            info.source,
        )
        if info
        else None,
        detail=_clean_detail(answer.detail),
    )


def _schema_errors(exc: ValidationError) -> str:
    """Where the answer breaks the protocol, by location and error type only (never a value)."""
    parts = []
    for error in exc.errors()[:3]:
        location = ".".join(str(p) for p in error["loc"])[:100]
        parts.append(f"{location}: {error['type']}")
    return "; ".join(parts)


# -- the call --------------------------------------------------------------------------------


class CallFailed(Exception):
    """A call that produced no valid answer; ``detail`` is safe to store and show."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def vet(url: str) -> PinnedTarget:
    """The webhook's vetted address (the vault's SSRF guard), or CallFailed saying why not.
    Plain http and private addresses only with RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS."""
    allowed = get_settings().gdpr_allow_private_networks
    try:
        return pin(url, allow_private=allowed, allow_http=allowed)
    except RampartError as exc:
        detail = (exc.detail or "the webhook URL is refused").replace(
            "proxies may not reach", "GDPR connectors may not reach"
        )
        detail = detail.replace(
            "RAMPART_VAULT_PROXY_ALLOW_HTTP", "RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS"
        )
        if exc.status == 403 and not allowed:
            detail += " (RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS)"
        raise CallFailed(detail) from None


def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise CallFailed(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def call(
    url: str,
    secret: bytes,
    body: bytes,
    *,
    timeout: float,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, bytes]:
    """POST ``body`` signed (afresh on each try) to the vetted address of ``url``; returns the
    final status and body of a 2xx/4xx answer, or raises CallFailed."""
    target = vet(url)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header,
    }
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    failure = ""
    with httpx.Client(
        trust_env=False, follow_redirects=False, timeout=httpx.Timeout(timeout), verify=True
    ) as client:
        for attempt in range(attempts):
            if attempt:
                sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            headers[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
            request = client.build_request(
                "POST", target.base_url, content=body, headers=headers, extensions=extensions
            )
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException:
                # Not retried: a slow service may be working; the workflow asks again later.
                raise CallFailed(f"no answer within {timeout:g} s") from None
            except httpx.TransportError as exc:
                failure = f"could not connect ({type(exc).__name__})"
                continue
            try:
                if response.status_code >= 500:
                    failure = f"the service answered HTTP {response.status_code}"
                    continue
                try:
                    return response.status_code, _read_bounded(response)
                except httpx.TimeoutException:
                    raise CallFailed(f"no complete answer within {timeout:g} s") from None
                except httpx.TransportError as exc:
                    raise CallFailed(f"the answer broke off ({type(exc).__name__})") from None
            finally:
                response.close()
    raise CallFailed(f"{failure} after {attempts} tries")


def answer_of(name: str, status: int, content: bytes) -> ConnectorOutcome:
    """The outcome a webhook's HTTP answer means."""
    if status == 202:
        return ConnectorOutcome(name, "pending", detail="accepted; the service answers later")
    if 300 <= status < 400:
        return ConnectorOutcome(name, "failed", detail=f"redirect (HTTP {status}) not followed")
    if status != 200:
        return ConnectorOutcome(name, "failed", detail=f"the service answered HTTP {status}")
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ConnectorOutcome(name, "failed", detail="the answer is not JSON")
    try:
        answer = WebhookAnswer.model_validate(document)
    except ValidationError as exc:
        return ConnectorOutcome(
            name, "failed", detail=f"the answer breaks {PROTOCOL}: {_schema_errors(exc)}"
        )
    return outcome_of(name, answer)


class WebhookConnector:
    """One configured webhook; the secret is read from its sealed row at each call."""

    def __init__(
        self, config_id: UUID, name: str, url: str, types: tuple[str, ...], timeout: float
    ) -> None:
        self.config_id, self.url, self.types, self.timeout = config_id, url, types, timeout
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def supports(self, request_type: RequestType) -> bool:
        return request_type in self.types

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        from compliance.gdpr.connector_models import DsarConnectorConfig
        from compliance.gdpr.connector_service import secret_of

        row = session.get(DsarConnectorConfig, self.config_id)
        if row is None:
            return ConnectorOutcome(self.name, "failed", detail="the connector was deleted")
        try:
            status, content = call(
                self.url, secret_of(session, row), request_body(request), timeout=self.timeout
            )
        except CallFailed as exc:
            return ConnectorOutcome(self.name, "failed", detail=exc.detail)
        return answer_of(self.name, status, content)


def ping(session: Session, name: str) -> ConnectorOutcome:
    """A signed ``ping`` to a configured webhook (``rampart dsar connector test``): its outcome
    says whether the service is reachable, checks the signature and speaks the protocol."""
    from uuid import uuid4

    from compliance.gdpr.connector_service import ConnectorInvalid, find, secret_of

    row = find(session, name)
    if row.kind != "webhook" or not row.url:
        raise ConnectorInvalid(f"connector {name!r} is a {row.kind} connector: nothing to call")
    try:
        status, content = call(
            row.url, secret_of(session, row), ping_body(uuid4()), timeout=row.timeout_seconds
        )
    except CallFailed as exc:
        return ConnectorOutcome(name, "failed", detail=exc.detail)
    return answer_of(name, status, content)
