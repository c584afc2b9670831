"""rampart_sdk.dsar: the signature check (missing, malformed, old, future, wrong secret, tampered
body refused; constant-time compare of every candidate) and the FastAPI router's answers."""

from __future__ import annotations

import json
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from compliance.gdpr.connectors.webhook import sign as server_sign
from rampart_sdk.dsar import (
    PROTOCOL,
    Answer,
    Dataset,
    DsarRequest,
    SignatureInvalid,
    dsar_router,
    sign,
    verify_signature,
)

SECRET = "s3cret-for-the-sdk-tests-0123456789"
BODY = json.dumps(
    {
        "protocol": PROTOCOL,
        "request_id": "0193a5c0-0000-7000-8000-000000000001",
        "type": "access",
        "subject": "c1",
        "email": "c1@shop.example",
        "changes": {},
        "purposes": [],
    }
).encode()


def test_a_fresh_signature_is_accepted_and_equals_what_rampart_sends() -> None:
    now = int(time.time())
    header = sign(SECRET, BODY, timestamp=now)
    assert header == server_sign(SECRET.encode(), BODY, now)
    verify_signature(SECRET, header, BODY)
    verify_signature(SECRET.encode(), header, BODY)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing signature"),
        ("", "missing signature"),
        ("v1=abc", "malformed signature"),
        ("t=abc,v1=abc", "malformed signature"),
        ("t=1700000000", "malformed signature"),
        ("garbage", "malformed signature"),
    ],
)
def test_missing_or_malformed_signatures_are_refused(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureInvalid) as refused:
        verify_signature(SECRET, header, BODY)
    assert refused.value.reason == reason


def test_old_future_wrong_secret_and_tampered_body_are_refused() -> None:
    now = int(time.time())
    for stamp in (now - 301, now + 301):
        with pytest.raises(SignatureInvalid, match="too old or from the future"):
            verify_signature(SECRET, sign(SECRET, BODY, timestamp=stamp), BODY)
    # Within the tolerance either way: accepted; a tighter tolerance refuses the same header.
    verify_signature(SECRET, sign(SECRET, BODY, timestamp=now - 299), BODY)
    with pytest.raises(SignatureInvalid):
        verify_signature(SECRET, sign(SECRET, BODY, timestamp=now - 60), BODY, tolerance=30)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_signature("another-secret-entirely-000000", sign(SECRET, BODY), BODY)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_signature(SECRET, sign(SECRET, BODY), BODY.replace(b"c1", b"c2"))


def test_one_matching_v1_among_several_is_enough() -> None:
    header = sign(SECRET, BODY)
    t = header.split(",")[0]
    verify_signature(SECRET, f"{t},v1={'0' * 64},{header.split(',')[1]}", BODY)


def _client(**handlers: object) -> TestClient:
    app = FastAPI()
    app.include_router(dsar_router(SECRET, **handlers))  # type: ignore[arg-type]
    return TestClient(app)


def test_router_refuses_unsigned_and_dispatches_signed_requests() -> None:
    seen: list[DsarRequest] = []

    def access(request: DsarRequest) -> Answer:
        seen.append(request)
        return Answer("done", 1, "exported", datasets=[Dataset("customers", [{"id": 1}])])

    client = _client(access=access)
    assert client.post("/rampart/dsar", content=BODY).status_code == 401
    stale = sign(SECRET, BODY, timestamp=int(time.time()) - 3600)
    assert (
        client.post("/rampart/dsar", content=BODY, headers={"Rampart-Signature": stale}).status_code
        == 401
    )
    assert seen == []
    answer = client.post(
        "/rampart/dsar", content=BODY, headers={"Rampart-Signature": sign(SECRET, BODY)}
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "done"
    assert answer.json()["datasets"] == [
        {"name": "customers", "records": [{"id": 1}], "categories": []}
    ]
    assert seen[0].subject == "c1" and seen[0].email == "c1@shop.example"


def test_router_answers_unhandled_rights_not_applicable_ping_and_bad_bodies() -> None:
    client = _client()
    answer = client.post(
        "/rampart/dsar", content=BODY, headers={"Rampart-Signature": sign(SECRET, BODY)}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "not_applicable"
    ping = json.dumps({**json.loads(BODY), "type": "ping", "subject": ""}).encode()
    pong = client.post(
        "/rampart/dsar", content=ping, headers={"Rampart-Signature": sign(SECRET, ping)}
    )
    assert pong.json()["detail"] == "pong"
    for bad in (b"not json", json.dumps({"protocol": "other/1"}).encode()):
        refused = client.post(
            "/rampart/dsar", content=bad, headers={"Rampart-Signature": sign(SECRET, bad)}
        )
        assert refused.status_code == 400


def test_a_pending_answer_is_http_202() -> None:
    client = _client(access=lambda request: Answer("pending", detail="later"))
    answer = client.post(
        "/rampart/dsar", content=BODY, headers={"Rampart-Signature": sign(SECRET, BODY)}
    )
    assert answer.status_code == 202
