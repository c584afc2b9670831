"""/v1/dsar through the real app and guard: a service files for a customer and reads only its
own filings; an officer (MFA) decides, processes through the built-in connectors and downloads
the certificate and package; wrong roles get 403, no token 401, illegal moves 409."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from sqlalchemy import update

from compliance.gdpr.models import DsarRequest
from core.clock import utcnow
from core.database import unit_of_work
from core.settings import Settings, get_settings
from iam.accounts.service import create_user
from iam.oauth2.tokens import Subject, mint_access_token
from tests.policies.authz_support import api, audit_entries, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
SERVICE = "g, client:shop, role:service, rampart"
OTHER_SERVICE = "g, client:crm, role:service, rampart"
AUDITOR = "g, client:auditor, role:auditor, rampart"


def user_bearer(email: str, roles: list[str], amr: list[str]) -> dict[str, str]:
    """A real signed access token of a user who logged in with ``amr``."""
    with unit_of_work() as db:
        user, _ = create_user(db, email, roles=roles)
        subject = Subject(user_id=user.id, auth_time=utcnow(), amr=amr)
        token, _, _ = mint_access_token(
            db, client_id="rampart-cli", subject=subject, scope="", audience=[get_settings().issuer]
        )
    return {"Authorization": f"Bearer {token}"}


def _officer() -> dict[str, str]:
    return user_bearer("dpo@shop.example", ["compliance_officer"], ["pwd", "otp", "mfa"])


def _mail(settings: Settings) -> str:
    return "".join(p.read_text() for p in Path(settings.data_dir, "mail").glob("*.eml"))


def test_service_files_and_reads_its_own_officer_processes_and_downloads(
    api: TestClient, bearer: Bearer
) -> None:
    shop = bearer("shop", SERVICE)
    filed = api.post(
        "/v1/dsar/requests",
        json={
            "type": "access",
            "subject": "cust-1",
            "email": "c1@shop.example",
            "identity_verified": True,
            "note": "asked through the shop's account page",
        },
        headers=shop,
    )
    assert filed.status_code == 201, filed.text
    request = filed.json()["request"]
    request_id = request["id"]
    assert (request["channel"], request["state"]) == ("api", "verified")
    assert request["due_at"] == request["original_due_at"] and 27 <= request["days_left"] <= 31
    assert [e["to_state"] for e in filed.json()["history"]] == ["received", "verified"]

    # The service reads its status; another service neither sees nor lists it.
    assert api.get(f"/v1/dsar/requests/{request_id}", headers=shop).status_code == 200
    crm = bearer("crm", OTHER_SERVICE)
    assert api.get(f"/v1/dsar/requests/{request_id}", headers=crm).status_code == 404
    assert api.get("/v1/dsar/requests", headers=crm).json()["requests"] == []
    assert [r["id"] for r in api.get("/v1/dsar/requests", headers=shop).json()["requests"]] == [
        request_id
    ]
    # ... and may do nothing else.
    for path in ("process", "approve", "verify-identity"):
        refused = api.post(f"/v1/dsar/requests/{request_id}/{path}", headers=shop)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"] == "application/problem+json"
    assert api.get(f"/v1/dsar/requests/{request_id}/certificate", headers=shop).status_code == 403
    assert api.get("/v1/dsar/requests").status_code == 401

    officer = _officer()
    processed = api.post(f"/v1/dsar/requests/{request_id}/process", headers=officer)
    assert processed.status_code == 200, processed.text
    body = processed.json()
    assert body["request"]["state"] == "completed"
    assert filed.json()["request"]["note"] is None  # services never read notes back
    assert body["request"]["note"] == "asked through the shop's account page"
    builtins = {"rampart.vault", "rampart.audit", "consent", "rampart.iam"}
    assert {o["connector"] for o in body["outcomes"]} == builtins
    assert all(o["attempts"] == 1 for o in body["outcomes"])
    assert body["request"]["package_sha256"]

    again = api.post(f"/v1/dsar/requests/{request_id}/process", headers=officer)
    assert again.status_code == 409

    cert = api.get(f"/v1/dsar/requests/{request_id}/certificate", headers=officer)
    assert cert.status_code == 200, cert.text
    files = {
        k: base64.b64decode(cert.json()[k])
        for k in ("certificate_json", "certificate_sig", "public_key_pem")
    }
    key = load_pem_public_key(files["public_key_pem"])
    assert isinstance(key, Ed25519PublicKey)
    key.verify(files["certificate_sig"], files["certificate_json"])  # raises when invalid
    assert b'"request_id":"' + request_id.encode() in files["certificate_json"]

    package = api.get(f"/v1/dsar/requests/{request_id}/package", headers=officer)
    assert package.status_code == 200, package.text
    assert package.headers["content-type"] == "application/zip"
    assert package.headers["x-rampart-package-sha256"] == body["request"]["package_sha256"]
    zipfile.ZipFile(io.BytesIO(package.content)).testzip()
    with unit_of_work(read_only=True) as db:
        exported = audit_entries(db, "dsar.package.exported")
        assert [json.loads(e.details)["request_id"] for e in exported] == [request_id]


def test_officer_needs_mfa_and_auditors_are_refused(api: TestClient, bearer: Bearer) -> None:
    body = {"type": "erasure", "subject": "cust-2"}
    no_mfa = user_bearer("dpo2@shop.example", ["compliance_officer"], ["pwd"])
    assert api.post("/v1/dsar/requests", json=body, headers=no_mfa).status_code == 403
    auditor = bearer("auditor", AUDITOR)
    assert api.post("/v1/dsar/requests", json=body, headers=auditor).status_code == 403
    assert api.get("/v1/dsar/requests", headers=auditor).status_code == 403


def test_officer_decisions_approval_and_illegal_moves(
    api: TestClient, authz_settings: Settings
) -> None:
    officer = _officer()
    filed = api.post(
        "/v1/dsar/requests",
        json={
            "type": "rectification",
            "subject": "cust-3",
            "email": "c3@shop.example",
            "changes": {"name": "Ann Example"},
        },
        headers=officer,
    )
    assert filed.status_code == 201, filed.text
    request = filed.json()["request"]
    rid = request["id"]
    assert (request["channel"], request["state"]) == ("officer", "identity_pending")
    assert request["changes"] == {"name": "Ann Example"}  # officers see them, until fulfilment

    # Not verified yet: cannot be processed or approved.
    assert api.post(f"/v1/dsar/requests/{rid}/process", headers=officer).status_code == 409
    assert api.post(f"/v1/dsar/requests/{rid}/approve", headers=officer).status_code == 409

    # Art. 12(6): asking for information pauses the clock.
    asked = api.post(
        f"/v1/dsar/requests/{rid}/request-information",
        json={"reason": "please confirm your order number"},
        headers=officer,
    )
    assert asked.status_code == 200, asked.text
    assert (asked.json()["request"]["state"], asked.json()["request"]["paused"]) == (
        "information_requested",
        True,
    )
    assert asked.json()["history"][-1]["reason"] == "please confirm your order number"
    verified = api.post(f"/v1/dsar/requests/{rid}/verify-identity", headers=officer)
    assert verified.json()["request"]["state"] == "verified"

    # A rectification waits for approval: process starts it, approve lets it run.
    started = api.post(f"/v1/dsar/requests/{rid}/process", headers=officer)
    assert started.json()["request"]["state"] == "awaiting_approval"
    assert api.post(f"/v1/dsar/requests/{rid}/process", headers=officer).status_code == 409
    approved = api.post(f"/v1/dsar/requests/{rid}/approve", headers=officer)
    assert approved.json()["request"]["state"] == "in_progress"
    done = api.post(f"/v1/dsar/requests/{rid}/process", headers=officer)
    assert done.json()["request"]["state"] == "completed"
    assert done.json()["request"]["changes"] is None  # cleared at fulfilment
    rejected = api.post(f"/v1/dsar/requests/{rid}/reject", json={"reason": "x"}, headers=officer)
    assert rejected.status_code == 409
    assert rejected.json()["type"].endswith("dsar-illegal-transition")

    bad = api.post(
        "/v1/dsar/requests",
        json={"type": "access", "subject": "c", "changes": {"a": "b"}},
        headers=officer,
    )
    assert bad.status_code == 422
    assert api.get("/v1/dsar/requests?state=nope", headers=officer).status_code == 422
    missing = api.get("/v1/dsar/requests/01900000-0000-7000-8000-000000000000", headers=officer)
    assert missing.status_code == 404


def test_extension_rules_reject_notice_and_overdue_filter(
    api: TestClient, authz_settings: Settings
) -> None:
    officer = _officer()

    def file(subject: str, email: str | None) -> str:
        body = {"type": "erasure", "subject": subject, "identity_verified": True}
        if email:
            body["email"] = email
        answer = api.post("/v1/dsar/requests", json=body, headers=officer)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["request"]["id"])

    rid = file("cust-4", "c4@shop.example")
    assert (
        api.post(
            f"/v1/dsar/requests/{rid}/extend", json={"months": 3, "reason": "r"}, headers=officer
        ).status_code
        == 422
    )
    extended = api.post(
        f"/v1/dsar/requests/{rid}/extend",
        json={"months": 2, "reason": "many systems"},
        headers=officer,
    )
    assert extended.status_code == 200, extended.text
    shown = extended.json()["request"]
    assert shown["extended"] and shown["due_at"] > shown["original_due_at"]
    assert shown["days_left"] >= 85
    assert "needs more time" in _mail(authz_settings)
    twice = api.post(
        f"/v1/dsar/requests/{rid}/extend", json={"months": 1, "reason": "r"}, headers=officer
    )
    assert twice.status_code == 409

    no_mail = file("cust-5", None)
    refused = api.post(
        f"/v1/dsar/requests/{no_mail}/extend", json={"months": 1, "reason": "r"}, headers=officer
    )
    assert refused.status_code == 409  # the subject could not be told

    late = file("cust-6", "c6@shop.example")
    with unit_of_work() as db:
        db.execute(
            update(DsarRequest)
            .where(DsarRequest.id == uuid.UUID(late))
            .values(due_at=utcnow() - timedelta(days=1))
        )
    past = api.post(
        f"/v1/dsar/requests/{late}/extend", json={"months": 1, "reason": "r"}, headers=officer
    )
    assert past.status_code == 409  # only during the first month
    overdue = api.get("/v1/dsar/requests?overdue=true", headers=officer).json()["requests"]
    assert [r["id"] for r in overdue] == [late] and overdue[0]["overdue"]
    assert overdue[0]["days_left"] < 0

    rejected = api.post(
        f"/v1/dsar/requests/{late}/reject",
        json={"reason": "manifestly unfounded"},
        headers=officer,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["request"]["rejection_reason"] == "manifestly unfounded"
    assert "right to lodge a complaint" in _mail(authz_settings)
    listed = api.get("/v1/dsar/requests?state=rejected&type=erasure", headers=officer).json()
    assert [r["id"] for r in listed["requests"]] == [late]
