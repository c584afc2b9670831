"""Outbound and inbound proxies against a real local HTTP upstream: the upstream receives the
card number while the caller only ever holds the token (and the reverse inbound); permissions,
SSRF refusals, failing upstreams and a stopped KMS refuse before anything leaks; every forward
is audited with route, purpose and token ids, never values."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.kms.provider import get_data_key_cache
from core.kms.service import ensure_kms_keys
from core.sensitive import contains_card_number
from core.settings import Settings, get_settings
from server.app import create_app
from tests.core.kms.conftest import use_vault
from tests.fixtures.openbao import OpenBaoServer
from tests.vault.conftest import CHECKOUT, CRM, AllowTable
from vault.keys import forget_cached_scopes
from vault.models import VaultToken
from vault.proxy import signatures

PAN = "4111111111111111"
PROBLEM = "application/problem+json"


@dataclass
class Upstream:
    """A real HTTP server on 127.0.0.1 recording what reaches it."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, base: str = "/gw") -> str:
        return f"http://127.0.0.1:{self.port}{base}"


def _handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            upstream.received.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            if self.path.endswith("/redirect"):
                self._answer(302, b"", {"location": f"http://127.0.0.1:{upstream.port}/leak"})
            elif self.path.endswith("/huge"):
                self._answer(200, b"x" * 3_000_000, {"content-type": "text/plain"})
            elif self.path.endswith("/slow"):
                time.sleep(3)
                self._answer(200, b"{}", {"content-type": "application/json"})
            else:  # echo, as a careless gateway would: the card number comes back
                echoed = {"received": json.loads(body), "id": "ch_1"}
                self._answer(201, json.dumps(echoed).encode(), {"content-type": "application/json"})

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "x-request-id": "up-1", "set-cookie": "s=1"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            # The proxy may give up reading (size limit): that is what is being tested.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    state = Upstream()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_ok(monkeypatch: pytest.MonkeyPatch, local_kms: Settings) -> Settings:
    """This test's settings let proxies reach the loopback upstream over plain http."""
    monkeypatch.setenv("RAMPART_VAULT_PROXY_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("RAMPART_VAULT_PROXY_ALLOW_HTTP", "true")
    monkeypatch.setenv("RAMPART_VAULT_PROXY_TIMEOUT", "1.5")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def proxy_api(private_ok: Settings, allow_table: AllowTable) -> Iterator[TestClient]:
    allow_table.allowed |= {
        ("svc-checkout", "vault:routes", "write"),
        ("svc-checkout", "vault:routes", "read"),
        ("svc-checkout", "vault:proxy:gateway", "forward"),
        ("svc-crm", "vault:proxy:gateway", "forward"),  # but no card detokenize permission
    }
    # The composed app as served: the inbound entry point is mounted by server.registry.
    with TestClient(create_app(private_ok), raise_server_exceptions=False) as client:
        yield client


def _add_route(api: TestClient, **declared: Any) -> Any:
    answer = api.post("/v1/vault/routes", json=declared, headers={"Authorization": CHECKOUT})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _gateway(api: TestClient, upstream: Upstream) -> None:
    _add_route(
        api,
        name="gateway",
        direction="outbound",
        destination=upstream.url(),
        fields=[{"path": "$.card.number", "type": "pan"}, {"path": "$.card.cvc", "type": "cvc"}],
        purpose="payment.authorize",
    )


def _tokenize(api: TestClient, kind: str, value: str) -> str:
    made = api.post(
        f"/v1/vault/{kind}/tokens", json={"value": value}, headers={"Authorization": CHECKOUT}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def _forward(api: TestClient, body: Any, auth: str = CHECKOUT, path: str = "charges") -> Any:
    return api.post(
        f"/v1/vault/proxy/gateway/{path}",
        json=body,
        headers={"Authorization": auth, "X-Upstream-Authorization": "Bearer sk_gw"},
    )


@dataclass(frozen=True)
class Entry:
    event_type: str
    outcome: str
    actor: str | None
    details: dict[str, Any]
    raw: str


def _audit(sessions: sessionmaker[Session], prefix: str = "vault.") -> list[Entry]:
    with sessions() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.event_type.startswith(prefix))
            .order_by(AuditEntry.seq)
        )
        return [
            Entry(r.event_type, r.outcome, r.actor, json.loads(r.details), r.details) for r in rows
        ]


def _no_pan_anywhere(response: Any, sessions: sessionmaker[Session]) -> None:
    assert PAN not in response.text and not contains_card_number(response.text)
    for entry in _audit(sessions, ""):
        assert PAN not in entry.raw and not contains_card_number(entry.raw)


def test_outbound_forwards_the_card_number_the_caller_never_sees(
    proxy_api: TestClient, upstream: Upstream, sessions: sessionmaker[Session]
) -> None:
    _gateway(proxy_api, upstream)
    pan_token, cvc_token = _tokenize(proxy_api, "pan", PAN), _tokenize(proxy_api, "cvc", "123")
    sent = {"card": {"number": pan_token, "cvc": cvc_token}, "amount": 1999}

    answer = _forward(proxy_api, sent)

    assert answer.status_code == 201, answer.text
    (hit,) = upstream.received
    assert json.loads(hit["body"]) == {"card": {"number": PAN, "cvc": "123"}, "amount": 1999}
    assert hit["path"] == "/gw/charges"
    assert hit["headers"]["host"] == f"127.0.0.1:{upstream.port}"
    assert hit["headers"]["authorization"] == "Bearer sk_gw"  # the upstream's, not Rampart's
    assert hit["headers"]["rampart-proxy-route"] == "gateway"
    # The gateway echoed the card: the caller gets it masked, keeps the last four.
    assert answer.json()["received"]["card"]["number"] == "************1111"
    assert answer.headers["x-request-id"] == "up-1" and "set-cookie" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    _no_pan_anywhere(answer, sessions)

    entries = _audit(sessions, "vault.")
    detokenized = [e for e in entries if e.event_type == "vault.detokenized"]
    assert {e.details["type"] for e in detokenized} == {"pan", "cvc"}
    assert all(e.details["purpose"] == "payment.authorize" for e in detokenized)
    ids = sorted(i for e in detokenized for i in e.details["ids"])
    (forwarding,) = [e for e in entries if e.event_type == "vault.proxy.forwarding"]
    (forwarded,) = [e for e in entries if e.event_type == "vault.proxy.forwarded"]
    assert sorted(forwarding.details["ids"]) == ids == sorted(forwarded.details["ids"])
    assert forwarded.outcome == "success" and forwarded.actor == "svc-checkout"
    assert forwarded.details["route"] == "gateway" and forwarded.details["upstream_status"] == 201
    assert forwarded.details["masked_in_answer"] == 1
    assert pan_token not in json.dumps([e.details for e in entries])  # ids, never tokens

    again = _forward(proxy_api, sent)  # the CVC was single use
    assert again.status_code == 404 and again.json()["field"] == "$.card.cvc"  # used, purged
    assert len(upstream.received) == 1


def test_outbound_needs_the_route_and_the_type_permission(
    proxy_api: TestClient, upstream: Upstream, allow_table: AllowTable
) -> None:
    _gateway(proxy_api, upstream)
    token = _tokenize(proxy_api, "pan", PAN)
    # svc-crm may use the route but may not detokenize card numbers: the route grants nothing.
    refused = _forward(proxy_api, {"card": {"number": token}}, auth=CRM)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert ("svc-crm", "vault:pan", "detokenize", False) in allow_table.decisions
    allow_table.allowed.discard(("svc-checkout", "vault:proxy:gateway", "forward"))
    assert _forward(proxy_api, {"card": {"number": token}}).status_code == 403
    assert ("svc-checkout", "vault:proxy:gateway", "forward", False) in allow_table.decisions
    assert proxy_api.post("/v1/vault/proxy/gateway/x", json={}).status_code == 401
    assert upstream.received == []


def test_bad_tokens_bodies_and_paths_are_refused_before_forwarding(
    proxy_api: TestClient, upstream: Upstream, sessions: sessionmaker[Session]
) -> None:
    _gateway(proxy_api, upstream)
    token = _tokenize(proxy_api, "pan", PAN)
    unknown = _forward(proxy_api, {"card": {"number": token[:-5] + "00000"}})
    assert unknown.status_code in (404, 422) and unknown.json()["field"] == "$.card.number"
    assert _forward(proxy_api, {"card": {"number": 4111}}).status_code == 422
    # The client normalizes `..` away: it names another route, which this caller may not use.
    escaped = _forward(proxy_api, {"card": {"number": token}}, path="../admin")
    assert escaped.status_code == 403
    assert _forward(proxy_api, {"card": {"number": token}}, path="a/%2e%2e/b").status_code == 422
    not_json = proxy_api.post(
        "/v1/vault/proxy/gateway/charges",
        content=b"card=" + token.encode(),
        headers={"Authorization": CHECKOUT},
    )
    assert not_json.status_code == 422
    # Parsed by core.strict_json: a second "number" is refused, not forwarded in the token's place.
    duplicate = proxy_api.post(
        "/v1/vault/proxy/gateway/charges",
        content=b'{"card": {"number": "%s", "number": "%s"}}' % (token.encode(), PAN.encode()),
        headers={"Authorization": CHECKOUT, "Content-Type": "application/json"},
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["type"] == "https://rampart.dev/problems/duplicate-json-key"
    put = proxy_api.put(
        "/v1/vault/proxy/gateway/charges",
        json={"card": {"number": token}},
        headers={"Authorization": CHECKOUT},
    )
    assert put.status_code == 405  # the route allows POST only
    assert upstream.received == []
    refused = [e for e in _audit(sessions) if e.event_type == "vault.proxy.refused"]
    assert refused and all(e.outcome == "failure" for e in refused)


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("redirect", 502, "vault-proxy-upstream-failed"),
        ("huge", 502, "vault-proxy-upstream-failed"),
        ("slow", 504, "vault-proxy-upstream-timeout"),
    ],
)
def test_a_failing_upstream_answers_a_problem_and_leaks_nothing(
    proxy_api: TestClient,
    upstream: Upstream,
    sessions: sessionmaker[Session],
    path: str,
    status: int,
    slug: str,
) -> None:
    _gateway(proxy_api, upstream)
    answer = _forward(proxy_api, {"card": {"number": _tokenize(proxy_api, "pan", PAN)}}, path=path)
    assert answer.status_code == status and answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith(slug)
    assert [hit["path"] for hit in upstream.received] == [f"/gw/{path}"]  # redirect not followed
    _no_pan_anywhere(answer, sessions)
    (forwarded,) = [e for e in _audit(sessions) if e.event_type == "vault.proxy.forwarded"]
    assert forwarded.outcome == "failure" and forwarded.details["reason"] == slug


def test_an_unreachable_upstream_is_a_502(
    proxy_api: TestClient, sessions: sessionmaker[Session]
) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    _add_route(
        proxy_api,
        name="gateway",
        direction="outbound",
        destination=f"http://127.0.0.1:{port}/",
        fields=[{"path": "$.pan", "type": "pan"}],
        purpose="payment.authorize",
    )
    answer = _forward(proxy_api, {"pan": _tokenize(proxy_api, "pan", PAN)})
    assert answer.status_code == 502 and answer.headers["content-type"] == PROBLEM
    _no_pan_anywhere(answer, sessions)


def test_ssrf_guard_refuses_loopback_unless_configured(
    proxy_api: TestClient,
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
) -> None:
    _add_route(
        proxy_api,
        name="gateway",
        direction="outbound",
        destination=f"http://localhost:{upstream.port}/gw",  # a name resolving to loopback
        fields=[{"path": "$.pan", "type": "pan"}],
        purpose="payment.authorize",
    )
    token = _tokenize(proxy_api, "pan", PAN)
    monkeypatch.setenv("RAMPART_VAULT_PROXY_ALLOW_PRIVATE_NETWORKS", "false")
    get_settings.cache_clear()

    refused = _forward(proxy_api, {"pan": token})

    assert refused.status_code == 403 and refused.json()["reason"] == "loopback"
    assert upstream.received == []
    # Refused before anything was revealed: no detokenize happened at all.
    assert not [e for e in _audit(sessions) if e.event_type == "vault.detokenized"]
    (entry,) = [e for e in _audit(sessions) if e.event_type == "vault.proxy.refused"]
    assert entry.details["reason"] == "vault-proxy-destination-refused"
    for literal in ("http://127.0.0.1/", "http://10.0.0.8/", "http://169.254.169.254/",
                    "http://[::1]/", "http://[::ffff:127.0.0.1]/"):  # fmt: skip
        made = proxy_api.post(
            "/v1/vault/routes",
            json={"name": "internal", "direction": "outbound", "destination": literal,
                  "fields": [{"path": "$.pan", "type": "pan"}], "purpose": "payment.x"},
            headers={"Authorization": CHECKOUT},
        )  # fmt: skip
        assert made.status_code == 422, literal


def _count_tokens(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(VaultToken)).scalar_one())


def _inbound(api: TestClient, body: bytes, secret: str | None, *, at: int | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if secret is not None:
        stamp = int(time.time()) if at is None else at
        headers["rampart-signature"] = signatures.sign(
            secret.encode(), stamp, "POST", "events", body
        )
    return api.post("/proxy/in/shop-test/webhook/events", content=body, headers=headers)


def test_inbound_tokenizes_declared_fields_for_signed_senders_only(
    proxy_api: TestClient, upstream: Upstream, sessions: sessionmaker[Session]
) -> None:
    created = _add_route(
        proxy_api,
        name="webhook",
        direction="inbound",
        destination=upstream.url("/shop"),
        fields=[
            {"path": "$.data.card.number", "type": "pan", "format": "pan_first6_last4"},
            {"path": "$.data.email", "type": "email", "format": "email_domain"},
        ],
    )
    secret = created["secret"]
    assert secret.startswith("rps_") and created["route"]["signed"] is True
    body = json.dumps(
        {"data": {"card": {"number": "4111 1111 1111 1111"}, "email": "a@shop.example"}}
    ).encode()

    for unsigned in (
        _inbound(proxy_api, body, None),
        _inbound(proxy_api, body, "rps_wrong"),
        _inbound(proxy_api, body, secret, at=int(time.time()) - 3600),
        proxy_api.post(
            "/proxy/in/shop-test/no-such-route/events",
            content=body,
            headers={"rampart-signature": "t=1,v1=00"},
        ),
    ):
        assert unsigned.status_code == 401 and unsigned.headers["content-type"] == PROBLEM
    assert upstream.received == [] and _count_tokens(sessions) == 0

    answer = _inbound(proxy_api, body, secret)

    assert answer.status_code == 201, answer.text
    (hit,) = upstream.received
    forwarded = json.loads(hit["body"])
    card_token = forwarded["data"]["card"]["number"]
    assert card_token.startswith("411111") and card_token.endswith("1111")
    assert card_token != PAN and not contains_card_number(hit["body"].decode())
    assert forwarded["data"]["email"].endswith("@shop.example")
    assert forwarded["data"]["email"] != "a@shop.example"
    assert _count_tokens(sessions) == 2
    _no_pan_anywhere(answer, sessions)
    (entry,) = [e for e in _audit(sessions) if e.event_type == "vault.proxy.forwarded"]
    assert entry.actor == "proxy:webhook" and len(entry.details["ids"]) == 2
    denied = [e for e in _audit(sessions) if e.event_type == "vault.proxy.refused"]
    assert len(denied) == 3 and {e.outcome for e in denied} == {"denied"}  # unknown route: none


def test_inbound_entry_point_is_served_and_signs_its_query(
    proxy_api: TestClient, upstream: Upstream, sessions: sessionmaker[Session]
) -> None:
    """Mounted in the composed app (OpenAPI lists it), and the query it forwards is signed."""
    paths = proxy_api.get("/openapi.json").json()["paths"]
    assert "post" in paths["/proxy/in/{tenant}/{route}/{path}"]
    secret = _add_route(
        proxy_api,
        name="webhook",
        direction="inbound",
        destination=upstream.url("/shop"),
        fields=[{"path": "$.pan", "type": "pan"}],
    )["secret"]
    body = json.dumps({"pan": PAN}).encode()
    stamp = int(time.time())
    signed = signatures.sign(secret.encode(), stamp, "POST", "events?kind=charge", body)
    headers = {"content-type": "application/json", "rampart-signature": signed}
    url = "/proxy/in/shop-test/webhook/events"
    tampered = proxy_api.post(f"{url}?kind=refund", content=body, headers=headers)
    assert tampered.status_code == 401 and tampered.headers["content-type"] == PROBLEM
    path_only = signatures.sign(secret.encode(), stamp, "POST", "events", body)
    added = proxy_api.post(
        f"{url}?kind=refund", content=body, headers={**headers, "rampart-signature": path_only}
    )
    assert added.status_code == 401  # a query the sender did not sign never reaches upstream
    assert upstream.received == [] and _count_tokens(sessions) == 0
    answer = proxy_api.post(f"{url}?kind=charge", content=body, headers=headers)
    assert answer.status_code == 201, answer.text
    (hit,) = upstream.received
    assert hit["path"] == "/shop/events?kind=charge"
    assert not contains_card_number(hit["body"].decode())


def test_inbound_refuses_a_bad_value_whole(
    proxy_api: TestClient, upstream: Upstream, sessions: sessionmaker[Session]
) -> None:
    secret = _add_route(
        proxy_api,
        name="webhook",
        direction="inbound",
        destination=upstream.url("/shop"),
        fields=[{"path": "$.email", "type": "email"}, {"path": "$.pan", "type": "pan"}],
    )["secret"]
    body = json.dumps({"email": "a@shop.example", "pan": "4111111111111112"}).encode()
    answer = _inbound(proxy_api, body, secret)
    assert answer.status_code == 422 and answer.json()["field"] == "$.pan"
    assert "4111111111111112" not in answer.text
    assert upstream.received == [] and _count_tokens(sessions) == 0  # the email rolled back too


@pytest.mark.integration
def test_kms_down_refuses_with_503_and_forwards_nothing(
    settings: Settings,
    allow_table: AllowTable,
    openbao_disposable: OpenBaoServer,
    monkeypatch: pytest.MonkeyPatch,
    upstream: Upstream,
) -> None:
    use_vault(
        monkeypatch,
        openbao_disposable,
        RAMPART_VAULT_PROXY_ALLOW_PRIVATE_NETWORKS="true",
        RAMPART_VAULT_PROXY_ALLOW_HTTP="true",
    )
    ensure_kms_keys()
    allow_table.allowed |= {
        ("svc-checkout", "vault:routes", "write"),
        ("svc-checkout", "vault:proxy:gateway", "forward"),
    }
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as api:
        _gateway(api, upstream)
        token = _tokenize(api, "pan", PAN)
        openbao_disposable.stop()
        get_data_key_cache().clear()  # as after the cache TTL: the key must be unwrapped again
        forget_cached_scopes()

        answer = _forward(api, {"card": {"number": token}})

    assert answer.status_code == 503 and answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith("kms-unavailable")
    assert upstream.received == []


def test_routes_listing_never_shows_secrets(
    proxy_api: TestClient, upstream: Upstream, client_factory: Callable[[], TestClient]
) -> None:
    secret = _add_route(
        proxy_api,
        name="webhook",
        direction="inbound",
        destination=upstream.url("/shop"),
        fields=[{"path": "$.pan", "type": "pan"}],
    )["secret"]
    listing = proxy_api.get("/v1/vault/routes", headers={"Authorization": CHECKOUT})
    assert listing.status_code == 200 and secret not in listing.text
    assert [r["name"] for r in listing.json()["routes"]] == ["webhook"]
    rotated = proxy_api.post(
        "/v1/vault/routes/webhook/secret", headers={"Authorization": CHECKOUT}
    ).json()["secret"]
    assert rotated != secret
    body = b'{"pan": "4111111111111111"}'
    assert _inbound(proxy_api, body, secret).status_code == 401  # the old one stopped working
    assert _inbound(proxy_api, body, rotated).status_code == 201
    deleted = proxy_api.delete("/v1/vault/routes/webhook", headers={"Authorization": CHECKOUT})
    assert deleted.status_code == 200
    assert _inbound(proxy_api, body, rotated).status_code == 401
