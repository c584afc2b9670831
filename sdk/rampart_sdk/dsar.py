"""Answer Rampart's GDPR data-subject requests from a shop service (protocol ``rampart.dsar/1``).

Rampart POSTs each request as JSON with ``Rampart-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, "<t>.<body>")>``. ``verify_signature`` checks it (constant time, at most
``tolerance`` seconds old); ``dsar_router`` (FastAPI) does that and dispatches to one handler per
right, so a service writes only the handlers::

    from rampart_sdk.dsar import Answer, Dataset, DsarRequest, dsar_router

    def access(request: DsarRequest) -> Answer:
        return Answer("done", rows_affected=1, method="exported",
                      datasets=[Dataset("customers", [{"id": request.subject}])])

    app.include_router(dsar_router(secret, access=access))

A right without a handler is answered ``not_applicable``; a ``ping`` (``rampart dsar connector
test``) is answered without calling any handler.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from fastapi import APIRouter

PROTOCOL = "rampart.dsar/1"
SIGNATURE_HEADER = "Rampart-Signature"
DEFAULT_TOLERANCE = 300

RequestType = Literal[
    "access", "rectification", "erasure", "restriction", "portability", "objection"
]
REQUEST_TYPES: tuple[str, ...] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
)
Status = Literal["done", "not_applicable", "pending", "failed"]


class SignatureInvalid(Exception):
    """The signature header is missing, malformed, too old or does not match the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RequestInvalid(Exception):
    """The signed body is not a ``rampart.dsar/1`` request."""


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """A ``Rampart-Signature`` header value for ``body`` (what Rampart sends; for tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(_as_bytes(secret), str(t).encode() + b"." + body, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> None:
    """Accept ``body`` only if ``header`` signs it with ``secret`` less than ``tolerance``
    seconds from now; raises SignatureInvalid otherwise. Any ``v1`` of the header may match
    (Rampart sends one; several allow a secret rotation)."""
    if not header:
        raise SignatureInvalid("missing signature")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureInvalid("malformed signature")
        if key == "t":
            if not value.isdigit() or len(value) > 12:
                raise SignatureInvalid("malformed signature")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise SignatureInvalid("malformed signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureInvalid("signature too old or from the future")
    expected = hmac.new(
        _as_bytes(secret), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    matched = False
    for candidate in candidates:  # every candidate compared: no early exit on a match
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise SignatureInvalid("signature does not match")


@dataclass(frozen=True, slots=True)
class DsarRequest:
    """What Rampart asks. ``subject`` is the customer id (the vault tokens' subject)."""

    request_id: str
    type: str  # one of REQUEST_TYPES, or "ping" for a connector test
    subject: str
    email: str | None = None
    changes: Mapping[str, str] = field(default_factory=dict)  # rectification: field -> value
    purposes: tuple[str, ...] = ()  # restriction, objection: empty = all

    @classmethod
    def parse(cls, body: bytes) -> DsarRequest:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RequestInvalid("the body is not JSON") from None
        if not isinstance(document, dict) or document.get("protocol") != PROTOCOL:
            raise RequestInvalid(f"the body is not a {PROTOCOL} request")
        kind = document.get("type")
        if kind not in (*REQUEST_TYPES, "ping"):
            raise RequestInvalid("unknown request type")
        changes = document.get("changes") or {}
        purposes = document.get("purposes") or []
        subject, request_id = document.get("subject"), document.get("request_id")
        email = document.get("email")
        if (
            not isinstance(subject, str)
            or not isinstance(request_id, str)
            or not (email is None or isinstance(email, str))
            or not isinstance(changes, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in changes.items())
            or not isinstance(purposes, list)
            or not all(isinstance(p, str) for p in purposes)
        ):
            raise RequestInvalid(f"the body is not a {PROTOCOL} request")
        return cls(request_id, kind, subject, email, changes, tuple(purposes))


@dataclass(frozen=True, slots=True)
class Dataset:
    """One table of the subject's records (access, portability)."""

    name: str
    records: Sequence[Mapping[str, Any]]
    categories: Sequence[str] = ()  # fideslang data categories


@dataclass(frozen=True, slots=True)
class Hold:
    """Data kept despite an erasure, and why (Art. 17(3))."""

    what: str
    legal_basis: str
    retention: str


@dataclass(frozen=True, slots=True)
class Info:
    """The Art. 15(1) information of this service (access)."""

    purposes: Sequence[str]
    categories: Sequence[str]
    recipients: Sequence[str]
    retention: str
    source: str


@dataclass(frozen=True, slots=True)
class Answer:
    status: Status
    rows_affected: int = 0
    method: str = ""
    datasets: Sequence[Dataset] = ()
    holds: Sequence[Hold] = ()
    info: Info | None = None
    detail: str = ""  # for people; never personal data or secrets

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "rows_affected": self.rows_affected,
            "method": self.method,
            "datasets": [
                {
                    "name": d.name,
                    "records": [dict(r) for r in d.records],
                    "categories": list(d.categories),
                }
                for d in self.datasets
            ],
            "holds": [
                {"what": h.what, "legal_basis": h.legal_basis, "retention": h.retention}
                for h in self.holds
            ],
            "info": None
            if self.info is None
            else {
                "purposes": list(self.info.purposes),
                "categories": list(self.info.categories),
                "recipients": list(self.info.recipients),
                "retention": self.info.retention,
                "source": self.info.source,
            },
            "detail": self.detail,
        }


Handler = Callable[[DsarRequest], Answer]


def dispatch(handlers: Mapping[str, Handler], request: DsarRequest) -> Answer:
    """The answer of the handler for the request's right (not_applicable without one)."""
    if request.type == "ping":
        return Answer("not_applicable", method="ping", detail="pong")
    handler = handlers.get(request.type)
    if handler is None:
        return Answer("not_applicable", detail=f"{request.type} is not handled here")
    return handler(request)


def dsar_router(
    secret: str | bytes,
    *,
    path: str = "/rampart/dsar",
    tolerance: int = DEFAULT_TOLERANCE,
    access: Handler | None = None,
    rectification: Handler | None = None,
    erasure: Handler | None = None,
    restriction: Handler | None = None,
    portability: Handler | None = None,
    objection: Handler | None = None,
) -> APIRouter:
    """A FastAPI router answering Rampart at ``POST path``: 401 on a bad signature, 400 on a
    body that is not the protocol, else 200 with the handler's answer (handlers run in the
    threadpool, so they may block on their database)."""
    from fastapi import APIRouter, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    handlers: dict[str, Handler] = {
        name: handler
        for name, handler in (
            ("access", access),
            ("rectification", rectification),
            ("erasure", erasure),
            ("restriction", restriction),
            ("portability", portability),
            ("objection", objection),
        )
        if handler is not None
    }
    router = APIRouter()

    async def answer_rampart(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_signature(secret, request.headers.get(SIGNATURE_HEADER), body, tolerance)
        except SignatureInvalid as exc:
            return JSONResponse({"error": exc.reason}, status_code=401)
        try:
            parsed = DsarRequest.parse(body)
        except RequestInvalid as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        answer = await run_in_threadpool(dispatch, handlers, parsed)
        return JSONResponse(
            answer.to_json(), status_code=202 if answer.status == "pending" else 200
        )

    # This module's annotations are strings (PEP 563) naming FastAPI's classes imported above,
    # inside this function: hand FastAPI the classes themselves.
    answer_rampart.__annotations__.update({"request": Request, "return": JSONResponse})
    router.add_api_route(path, answer_rampart, methods=["POST"], include_in_schema=False)
    return router
