"""The portal's request pages through the real app and guard: each of the six rights filed is
identity-verified on channel portal; one subject never sees another's request (404); the
package link works once; withdrawal and a 12(6) answer go through the service."""

from __future__ import annotations

import re
from uuid import UUID

from fastapi.testclient import TestClient

from compliance.gdpr import consent, service
from compliance.gdpr.connectors.base import REQUEST_TYPES
from compliance.gdpr.models import DsarRequest
from core.database import unit_of_work
from tests.compliance.gdpr.portal.support import csrf_of, sign_in_by_email
from tests.policies.authz_support import api, authz_settings

__all__ = ["api", "authz_settings"]  # fixtures used by name

ADDRESS = "ada@example.com"
LOCATION = re.compile(r"^/privacy/requests/([0-9a-f-]{36})$")


def _file(api: TestClient, type_: str, **fields: str | list[str]) -> UUID:
    form = api.get(f"/privacy/requests/new/{type_}")
    assert form.status_code == 200, form.text
    data: dict[str, str | list[str]] = {"type": type_, "csrf_token": csrf_of(form.text)}
    data.update(fields)
    response = api.post("/privacy/requests", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    match = LOCATION.match(response.headers["location"])
    assert match
    return UUID(match.group(1))


def test_each_right_is_filed_verified_through_the_portal(api: TestClient) -> None:
    with unit_of_work() as db:
        consent.seed_default_purposes(db, actor="test")
    sign_in_by_email(api, ADDRESS)
    extra: dict[str, dict[str, str | list[str]]] = {
        "rectification": {"field": ["name", ""], "value": ["Ada Lovelace", ""]},
        "erasure": {"confirm": "yes"},
        "restriction": {"purpose": ["personalize"]},
        "objection": {"purpose": ["personalize", "not-a-purpose"]},
    }
    ids = {t: _file(api, t, **extra.get(t, {})) for t in REQUEST_TYPES}
    with unit_of_work() as db:
        rows = {t: db.get(DsarRequest, i) for t, i in ids.items()}
    for type_, row in rows.items():
        assert row is not None and row.type == type_
        assert (row.channel, row.state, row.email) == ("portal", "verified", ADDRESS)
    assert rows["rectification"] is not None and rows["rectification"].changes == (
        '{"name": "Ada Lovelace"}'
    )
    assert rows["objection"] is not None and rows["objection"].purposes == '["personalize"]'
    listing = api.get("/privacy/requests").text
    assert listing.count("<tr data-type=") == 6
    detail = api.get(f"/privacy/requests/{ids['access']}").text
    assert "We received your request." in detail and "Your identity is confirmed." in detail


def test_erasure_needs_the_confirmation_and_restriction_a_purpose(api: TestClient) -> None:
    sign_in_by_email(api, ADDRESS)
    for type_ in ("erasure", "restriction"):
        form = api.get(f"/privacy/requests/new/{type_}").text
        refused = api.post("/privacy/requests", data={"type": type_, "csrf_token": csrf_of(form)})
        assert refused.status_code == 422
        assert 'role="alert"' in refused.text
    forged = api.post("/privacy/requests", data={"type": "access", "csrf_token": "forged"})
    assert forged.status_code == 403
    with unit_of_work() as db:
        assert db.query(DsarRequest).count() == 0


def test_another_subjects_request_is_not_found(api: TestClient) -> None:
    sign_in_by_email(api, ADDRESS)
    mine = _file(api, "access")
    api.cookies.clear()
    sign_in_by_email(api, "eve@example.com")
    assert api.get(f"/privacy/requests/{mine}").status_code == 404
    page = api.get("/privacy/requests").text
    assert str(mine) not in page
    withdraw = api.post(f"/privacy/requests/{mine}/withdraw", data={"csrf_token": csrf_of(page)})
    assert withdraw.status_code == 404
    with unit_of_work() as db:
        assert service.get_request(db, mine).state == "verified"


def test_withdraw_and_answer_an_information_request(api: TestClient) -> None:
    sign_in_by_email(api, ADDRESS)
    asked = _file(api, "access")
    withdrawn = _file(api, "portability")
    with unit_of_work() as db:
        service.request_information(db, asked, actor="user:officer", reason="Which shop?")
    page = api.get(f"/privacy/requests/{asked}").text
    assert "Which shop?" in page
    answer = api.post(
        f"/privacy/requests/{asked}/answer",
        data={"csrf_token": csrf_of(page), "answer": "The Berlin one"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = api.get(f"/privacy/requests/{withdrawn}").text
    out = api.post(
        f"/privacy/requests/{withdrawn}/withdraw",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert out.status_code == 303
    with unit_of_work() as db:
        assert service.get_request(db, asked).state == "verified"
        assert service.get_request(db, asked).note == "The Berlin one"
        assert service.get_request(db, withdrawn).state == "withdrawn"


def test_the_package_link_works_once(api: TestClient) -> None:
    sign_in_by_email(api, ADDRESS)
    request_id = _file(api, "access")
    with unit_of_work() as db:
        service.store_package(db, service.get_request(db, request_id), "data.zip", b"PK-bytes")
    page = api.get(f"/privacy/requests/{request_id}").text
    link = api.post(
        f"/privacy/requests/{request_id}/package-link",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert link.status_code == 303
    url = link.headers["location"]
    first = api.get(url)
    assert first.status_code == 200 and first.content == b"PK-bytes"
    assert first.headers["content-disposition"] == 'attachment; filename="data.zip"'
    assert api.get(url).status_code == 410
    # Nor does a link work behind another subject's session.
    link = api.post(
        f"/privacy/requests/{request_id}/package-link",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    api.cookies.delete("rampart_privacy")
    assert api.get(link.headers["location"], follow_redirects=False).status_code == 303
    sign_in_by_email(api, "eve@example.com")
    assert api.get(link.headers["location"]).status_code == 404
