"""The lean routes of tokenize and detokenize (vault.hot_endpoints): the documented answers, no
dependency for FastAPI to solve, every refusal and bad body a problem, and their writes and audit
entries committed together by the group commit before the answer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.audit.verification import verify
from core.audit.writer import close_audit_writer, get_audit_writer
from core.settings import Settings
from tests.vault.conftest import CHECKOUT, CRM, AllowTable
from vault.models import VaultToken
from vault.schemas import DetokenizeBatchOut, DetokenizeOut, TokenBatchOut, TokenOut

PROBLEM = "application/problem+json"
VOLATILE = {"id", "token", "fingerprint", "created_at", "expires_at", "instance", "request_id"}


@pytest.fixture(autouse=True)
def _fresh_writer() -> Iterator[None]:
    close_audit_writer()  # the writer of this test's database, not a previous test's
    yield
    close_audit_writer()


def _stable(document: Any) -> Any:
    """A response document without what differs between two calls (ids, tokens, times)."""
    if isinstance(document, dict):
        return {k: _stable(v) for k, v in document.items() if k not in VOLATILE}
    if isinstance(document, list):
        return [_stable(item) for item in document]
    return document


def _post(client: TestClient, path: str, body: Any, auth: str = CHECKOUT) -> Any:
    return client.post(path, json=body, headers={"Authorization": auth})


def _token(client: TestClient, kind: str, value: str, auth: str = CHECKOUT) -> str:
    answer = _post(client, f"/v1/vault/{kind}/tokens", {"value": value}, auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_tokenize_answers_are_the_documented_models(api: TestClient) -> None:
    single = {"value": "4111 1111 1111 1111", "format": "pan_first6_last4", "ttl_seconds": 600}
    batch = {"items": [{"value": "5555555555554444"}, {"value": "4111111111111112"}]}
    one = _post(api, "/v1/vault/pan/tokens", single)
    many = _post(api, "/v1/vault/pan/tokens/batch", batch)
    assert (one.status_code, many.status_code) == (201, 200)
    assert one.headers["content-type"] == many.headers["content-type"] == "application/json"
    out = TokenOut.model_validate_json(one.content)
    assert (out.type, out.format, out.fingerprint) == ("pan", "pan_first6_last4", None)
    assert out.token.startswith("411111") and out.token.endswith("1111")
    assert out.expires_at is not None
    assert _stable(one.json()) == {
        "type": "pan",
        "format": "pan_first6_last4",
        "deterministic": False,
        "single_use": False,
        "subject": None,
        "created": True,
    }
    items = TokenBatchOut.model_validate_json(many.content).items
    assert [item.index for item in items] == [0, 1]
    assert items[0].result is not None and items[0].error is None
    assert items[1].result is None and items[1].error is not None
    assert items[1].error.status == 422 and items[1].error.type.endswith("vault-luhn-failed")
    # Same security headers and request id as any answer (the edge middleware wraps the route).
    for header in ("x-request-id", "content-security-policy", "cache-control"):
        assert header in one.headers


def test_detokenize_answers_are_the_documented_models(api: TestClient) -> None:
    token = _token(api, "pan", "4111111111111111")
    other = _token(api, "pan", "5555555555554444")
    single = _post(api, "/v1/vault/pan/detokenize", {"token": token, "purpose": "payment.capture"})
    batch = _post(
        api,
        "/v1/vault/pan/detokenize/batch",
        {"tokens": [other, "tok_pan_missing"], "purpose": "payment.capture"},
    )
    for answer in (single, batch):
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"] == "application/json"
    assert DetokenizeOut.model_validate_json(single.content).value == "4111111111111111"
    assert _stable(single.json()) == {"value": "4111111111111111"}
    items = DetokenizeBatchOut.model_validate_json(batch.content).items
    assert items[0].result is not None and items[0].result.value == "5555555555554444"
    assert items[1].error is not None and items[1].error.type.endswith("vault-token-malformed")


def test_the_routes_are_lean_and_documented(api: TestClient) -> None:
    """Plain async endpoints taking only the request: FastAPI solves no dependency, reads no
    body, makes no threadpool hop; the OpenAPI document still has their bodies and answers."""
    import inspect

    from fastapi.routing import APIRoute, iter_route_contexts

    lean = {f"/v1/vault/pan/{path}" for path in ("tokens", "tokens/batch", "detokenize")}
    lean.add("/v1/vault/pan/detokenize/batch")
    routes = [
        context.original_route
        for context in iter_route_contexts(api.app.routes)  # type: ignore[attr-defined]
        if context.path in lean and isinstance(context.original_route, APIRoute)
    ]
    assert len(routes) == len(lean)
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path
        assert route.dependant.dependencies == [] and route.body_field is None, route.path
        params = route.dependant
        assert not (params.query_params or params.header_params or params.cookie_params)
    paths = api.get("/openapi.json").json()["paths"]
    tokenize = paths["/v1/vault/pan/tokens"]["post"]
    schema = tokenize["requestBody"]["content"]["application/json"]["schema"]
    assert "value" in schema["required"] and schema["additionalProperties"] is False
    assert tokenize["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenOut"
    }
    batch = paths["/v1/vault/pan/tokens/batch"]["post"]["requestBody"]["content"]
    item = batch["application/json"]["schema"]["properties"]["items"]["items"]
    assert "value" in item["properties"]  # nested models written in place, not dangling refs
    assert (
        "purpose"
        in paths["/v1/vault/pan/detokenize"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["required"]
    )


def test_refusals_and_bad_bodies_are_problems(api: TestClient, allow_table: AllowTable) -> None:
    path = "/v1/vault/pan/tokens"
    unknown = _post(api, path, {"value": "4111111111111111"}, auth="Bearer nobody")
    denied = _post(api, path, {"value": "4111111111111111"}, auth=CRM)
    malformed = api.post(
        path, content=b'{"value": 4111111111111111}', headers={"Authorization": CHECKOUT}
    )
    extra = _post(api, path, {"value": "4111111111111111", "unexpected": 1})
    assert (unknown.status_code, denied.status_code) == (401, 403)
    assert malformed.status_code == extra.status_code == 422
    for answer in (unknown, denied, malformed, extra):
        assert answer.headers["content-type"] == PROBLEM
    assert [e["loc"] for e in extra.json()["errors"]] == [["body", "unexpected"]]
    assert "4111111111111111" not in malformed.text + extra.text
    auth = {"Authorization": CHECKOUT}
    not_json = api.post(path, content=b"{}", headers={**auth, "Content-Type": "text/plain"})
    empty = api.post(path, content=b"", headers={**auth, "Content-Type": "application/json"})
    broken = api.post(
        path, content=b'{"value": ', headers={**auth, "Content-Type": "application/json"}
    )
    assert not_json.status_code == empty.status_code == broken.status_code == 422
    assert [e["type"] for e in empty.json()["errors"]] == ["missing"]
    assert [e["type"] for e in broken.json()["errors"]] == ["json_invalid"]
    assert broken.json()["errors"][0]["loc"][0] == "body"
    purpose = _post(
        api, "/v1/vault/pan/detokenize", {"token": "tok_pan_x", "purpose": "No Purpose!"}
    )
    assert purpose.status_code == 422 and purpose.headers["content-type"] == PROBLEM
    oversize = _post(api, "/v1/vault/pan/tokens/batch", {"items": [{"value": "1"}] * 1001})
    assert oversize.status_code in (413, 422) and oversize.headers["content-type"] == PROBLEM


def test_writes_commit_with_their_audit_entries(
    api: TestClient, sessions: sessionmaker[Session]
) -> None:
    token = _token(api, "pan", "4111111111111111")
    detokenized = _post(
        api, "/v1/vault/pan/detokenize", {"token": token, "purpose": "payment.capture"}
    )
    assert detokenized.status_code == 200
    with sessions() as db:
        stored = db.scalar(select(func.count()).select_from(VaultToken))
        kinds = list(db.scalars(select(AuditEntry.event_type).order_by(AuditEntry.seq)))
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        report = verify(db, [])
    assert stored == 1
    assert kinds.count("vault.tokenized") == 1 and kinds.count("vault.detokenized") == 1
    detokenize_entry = next(e for e in entries if e.event_type == "vault.detokenized")
    assert detokenize_entry.actor == "svc-checkout"
    assert "payment.capture" in detokenize_entry.details
    assert "4111111111111111" not in "".join(e.details for e in entries)
    assert report.ok


def test_concurrent_requests_share_commits(
    api: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Many callers at once: every token stored with its own entry, in fewer transactions."""
    callers, each = 8, 10
    tokens: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(each):
            token = _token(api, "pan", "4111111111111111")
            with lock:
                tokens.append(token)

    batches_before = get_audit_writer().batches
    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = callers * each
    assert len(set(tokens)) == total
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(VaultToken)) == total
        entries = db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event_type == "vault.tokenized")
        )
        assert verify(db, []).ok
    assert entries == total
    assert get_audit_writer().batches - batches_before <= total


def test_store_failure_answers_503_and_keeps_nothing(
    api: TestClient, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import KmsUnavailable
    from vault import storing

    def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise KmsUnavailable("the key service is unreachable")

    monkeypatch.setattr(storing, "scope_keys", unreachable)
    answer = _post(api, "/v1/vault/pan/tokens", {"value": "4111111111111111"})
    assert answer.status_code == 503 and answer.headers["content-type"] == PROBLEM
    assert "request_id" in answer.json()
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(VaultToken)) == 0
        assert not db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event_type == "vault.tokenized")
        )


def test_a_batch_with_a_taken_token_is_stored_one_by_one(
    sessions: sessionmaker[Session], local_kms: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests in one shared transaction draw the same token: the shared insert cannot
    store both, so the batch is run again request by request, each drawing its own token."""
    from core.audit.service import prepare_event
    from vault import service, token_rows
    from vault.records import TokenizeRequest

    real_generate: Callable[..., str] = token_rows.generate_token  # type: ignore[attr-defined]
    calls: list[str] = []

    def same_token_twice(*args: Any) -> str:
        token = real_generate(*args)
        calls.append(calls[0] if len(calls) == 1 else token)
        return calls[-1]

    monkeypatch.setattr(token_rows, "generate_token", same_token_twice)

    def work(batch: service.PreparedBatch) -> Any:
        def run(session: Session) -> Any:
            outcomes, event = service.store_audited(session, "shop-test", batch, "svc-test")
            return outcomes, [prepare_event(**event)]

        return run

    prepared = [
        service.prepare_batch("pan", [TokenizeRequest("4111111111111111")]) for _ in range(2)
    ]
    writer = get_audit_writer()
    with writer._wakeup:
        futures = [writer.submit_work(work(batch)) for batch in prepared]
    results = [future.result(timeout=30) for future in futures]
    assert calls[0] == calls[1]  # the shared attempt really collided
    tokens = {outcomes[0].token for outcomes in results}
    assert (len(tokens) == 2 and calls[0] not in tokens) or len(tokens) == 2
    with sessions() as db:
        stored = set(db.scalars(select(VaultToken.token)))
        entries = db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event_type == "vault.tokenized")
        )
    assert stored == tokens and entries == 2


def test_an_audited_allow_stays_on_record_when_the_access_fails(
    api: TestClient,
    allow_table: AllowTable,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lean guard's `authz.allowed` of a detokenize commits with the request, and on its own
    when the request's work fails (as a guard recording it before the endpoint ran would)."""
    from core import authz
    from core.audit.service import EventFields
    from core.errors import KmsUnavailable
    from vault import access

    def allowed_event(request: authz.AccessRequest, decision: authz.Decision) -> Any:
        if not decision.allowed or request.act != "detokenize":
            return None
        return EventFields(event_type="authz.allowed", resource=request.obj, actor="svc-test")

    authz.configure(
        allow_table.authenticate,
        allow_table.decide,
        lambda _request, _decision: None,
        decision_event=allowed_event,
    )
    token = _token(api, "pan", "4111111111111111")

    def unreachable(*_args: Any) -> bytes:
        raise KmsUnavailable("the key service is unreachable")

    monkeypatch.setattr(access, "load_data_key", unreachable)
    path = "/v1/vault/pan/detokenize"
    answer = _post(api, path, {"token": token, "purpose": "payment.capture"})
    assert answer.status_code == 503 and answer.headers["content-type"] == PROBLEM
    with sessions() as db:
        kinds = list(db.scalars(select(AuditEntry.event_type)))
    assert kinds.count("authz.allowed") == 1 and "vault.detokenized" not in kinds


def test_a_drafted_batch_alone_with_a_taken_token_is_stored_all_or_none(
    api: TestClient, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch alone in its transaction inserts its drafted rows all or none: when one token is
    taken, none stays from that attempt and the batch is stored again, drawing afresh."""
    from vault import token_rows

    first = _token(api, "pan", "4111111111111111")
    real_generate: Callable[..., str] = token_rows.generate_token  # type: ignore[attr-defined]
    draws: list[str] = []

    def second_draw_taken(*args: Any) -> str:
        draws.append(first if len(draws) == 1 else real_generate(*args))
        return draws[-1]

    monkeypatch.setattr(token_rows, "generate_token", second_draw_taken)
    answer = _post(
        api,
        "/v1/vault/pan/tokens/batch",
        {"items": [{"value": "5555555555554444"}, {"value": "378282246310005"}]},
    )
    assert answer.status_code == 200
    tokens = [item["result"]["token"] for item in answer.json()["items"]]
    assert first not in tokens and len(draws) == 4  # two drafted, two drawn again
    with sessions() as db:
        stored = set(db.scalars(select(VaultToken.token)))
    assert stored == {first, *tokens}
