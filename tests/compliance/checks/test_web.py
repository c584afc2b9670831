"""Browser-facing probes: security headers, scripts without SRI, error disclosure."""

from __future__ import annotations

from tests.compliance.checks.conftest import ContextFactory, run


def test_page_probes_pass_on_ramparts_login_page(live_context: ContextFactory) -> None:
    for check_id in (
        "web.security_headers_probe",
        "web.script_integrity_probe",
        "web.error_disclosure_probe",
    ):
        result = run(check_id, live_context())
        assert result.status == "pass", (check_id, result)


def test_page_probes_fail_on_a_registered_page_without_headers_or_sri(
    live_context: ContextFactory, weak_shop: str
) -> None:
    pages = [weak_shop + "/login"]
    headers = run("web.security_headers_probe", live_context(compliance_payment_pages=pages))
    assert headers.status == "fail"
    assert f"{weak_shop}/login: no content-security-policy" in headers.observed["problems"]
    scripts = run("web.script_integrity_probe", live_context(compliance_payment_pages=pages))
    assert scripts.status == "fail"
    assert scripts.observed["third_party_without_integrity"] == [
        "https://cdn.example.com/widget.js"
    ]
    assert f"{weak_shop}/static/app.js" in scripts.observed["scripts"]  # first party: fine
    errors = run("web.error_disclosure_probe", live_context(url=weak_shop))
    assert errors.status == "fail"
    assert "GET /v1/compliance-probe-missing" in errors.observed["disclosing"]
