"""/v1/compliance/reviews through the real app and guard, and the scheduled job: officers start,
decide and sign off; auditors read but cannot decide (problem+json); the job opens one review
per slot across replicas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from compliance.engine import EngineDeps
from compliance.reviews_models import AccessReview
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime
from core.jobs.scheduler import Scheduler
from tests.compliance.test_reviews import EXTRA
from tests.core.jobs.conftest import run_row, wait_for
from tests.policies.authz_support import add_policy_lines, api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
OFFICER = "g, client:officer, role:compliance_officer, rampart"
AUDITOR = "g, client:auditor, role:auditor, rampart"


def test_officers_decide_and_sign_off_auditors_only_read(
    api: TestClient, bearer: Bearer, deps: EngineDeps
) -> None:
    officer, auditor = bearer("officer", OFFICER), bearer("auditor", AUDITOR)
    add_policy_lines(*EXTRA)
    started = api.post(
        "/v1/compliance/reviews",
        json={"object": "vault/pan", "action": "detokenize"},
        headers=officer,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    review_id = body["review"]["id"]
    assert sorted(i["subject"] for i in body["items"]) == ["client:checkout", "client:crm"]
    assert body["undecided"] == 2
    assert api.post("/v1/compliance/reviews", json={}, headers=auditor).status_code == 403
    listed = api.get("/v1/compliance/reviews?status=open", headers=auditor)
    assert [r["review"]["id"] for r in listed.json()["reviews"]] == [review_id]
    decision = f"/v1/compliance/reviews/{review_id}/items/1/decision"
    refused = api.post(decision, json={"decision": "keep", "comment": "ok"}, headers=auditor)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    early = api.post(f"/v1/compliance/reviews/{review_id}/sign-off", headers=officer)
    assert early.status_code == 409
    assert early.json()["type"].endswith("compliance-review-not-decided")
    for position in (1, 2):
        kept = api.post(
            f"/v1/compliance/reviews/{review_id}/items/{position}/decision",
            json={"decision": "keep", "comment": "needed for checkout"},
            headers=officer,
        )
        assert kept.status_code == 200, kept.text
    signed = api.post(f"/v1/compliance/reviews/{review_id}/sign-off", headers=officer)
    assert signed.status_code == 200, signed.text
    shown = api.get(f"/v1/compliance/reviews/{review_id}", headers=auditor).json()
    assert shown["review"]["status"] == "signed-off"
    assert shown["review"]["evidence_id"] == signed.json()["evidence_id"]
    missing = api.get(
        f"/v1/compliance/reviews/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=auditor
    )
    assert missing.status_code == 404
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        "/v1/compliance/reviews",
        "/v1/compliance/reviews/{review_id}",
        "/v1/compliance/reviews/{review_id}/items/{position}/decision",
        "/v1/compliance/reviews/{review_id}/sign-off",
    } <= set(paths)


def test_the_job_opens_a_review_once_across_replicas(deps: EngineDeps) -> None:
    import compliance.reviews_jobs  # noqa: F401 - declares the job and the schedule
    from policies import service as policy_store

    with unit_of_work() as db:
        policy_store.ensure_default_policy(db)
    config = JobsConfig(poll_seconds=0.05, lease_seconds=5.0, max_scheduler_sleep=0.2)
    now = utcnow()
    first, second = Scheduler(config), Scheduler(config)
    first.tick(now=now - timedelta(days=2))
    second.tick(now=now - timedelta(days=2))
    fired = [
        s
        for s in first.tick(now=now) + second.tick(now=now)
        if s.schedule == "compliance.open_access_review"
    ]
    assert len(fired) == 1
    runtime = JobsRuntime(config, scheduler=False, workers=True, concurrency=1).start()
    try:
        wait_for(lambda: run_row(fired[0].run_id).status == "succeeded", 20, "open review")
    finally:
        runtime.stop(timeout=5)
    result = run_row(fired[0].run_id).result
    assert result is not None and result["opened"] is True
    with unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(AccessReview)) == 1
