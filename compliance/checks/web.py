"""Probes of the pages a browser sees (PCI DSS 6.4.3, 11.6.1, 6.2.4): security headers, third-
party scripts without Subresource Integrity, and error answers that disclose nothing."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from compliance.checks.base import CheckContext, CheckResult, check

REQUIRED_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")
LEAK_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.")


def payment_pages(ctx: CheckContext) -> list[str]:
    """The registered payment pages, or Rampart's own login page (where passwords are typed)."""
    return list(ctx.settings.compliance_payment_pages) or [ctx.base_url.rstrip("/") + "/login"]


class _ScriptSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[str, bool]] = []  # (src, has integrity)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append((str(values["src"]), bool(values.get("integrity"))))


def _header_problems(url: str, headers: dict[str, str]) -> list[str]:
    problems = [f"{url}: no {name}" for name in REQUIRED_HEADERS if name not in headers]
    policy = headers.get("content-security-policy", "")
    if "frame-ancestors" not in policy and "x-frame-options" not in headers:
        problems.append(f"{url}: framing not restricted")
    if policy and "'unsafe-inline'" in policy.split("script-src", 1)[-1].split(";", 1)[0]:
        problems.append(f"{url}: script-src allows 'unsafe-inline'")
    if urlsplit(url).scheme == "https" and "strict-transport-security" not in headers:
        problems.append(f"{url}: no strict-transport-security")
    return problems


@check(
    "web.security_headers_probe",
    title="Payment and login pages send CSP, nosniff, referrer and framing headers",
    controls=["pci-dss-4.0.1:6.4.3", "pci-dss-4.0.1:11.6.1", "pci-dss-4.0.1:6.4.1"],
    kind="probe",
    timeout_seconds=30,
)
def security_headers_probe(ctx: CheckContext) -> CheckResult:
    problems: list[str] = []
    pages = payment_pages(ctx)
    for url in pages:
        response = ctx.http.get(url)
        problems += _header_problems(url, {k.lower(): v for k, v in response.headers.items()})
    return CheckResult.judge(
        not problems,
        {"pages": pages, "problems": problems},
        {"problems": []},
        target=", ".join(pages),
    )


@check(
    "web.script_integrity_probe",
    title="Scripts on payment pages are first-party or carry Subresource Integrity",
    controls=["pci-dss-4.0.1:6.4.3", "pci-dss-4.0.1:11.6.1"],
    kind="probe",
    timeout_seconds=30,
)
def script_integrity_probe(ctx: CheckContext) -> CheckResult:
    unprotected: list[str] = []
    inventory: list[str] = []
    pages = payment_pages(ctx)
    for url in pages:
        parser = _ScriptSources()
        parser.feed(ctx.http.get(url).text)
        origin = urlsplit(url).netloc
        for src, has_integrity in parser.scripts:
            absolute = urljoin(url, src)
            inventory.append(absolute)
            if urlsplit(absolute).netloc != origin and not has_integrity:
                unprotected.append(absolute)
    return CheckResult.judge(
        not unprotected,
        {"scripts": sorted(set(inventory)), "third_party_without_integrity": unprotected},
        {"third_party_without_integrity": []},
        target=", ".join(pages),
    )


@check(
    "web.error_disclosure_probe",
    title="Errors are problem+json without stack traces or driver messages",
    controls=["pci-dss-4.0.1:6.2.4", "pci-dss-4.0.1:6.4.1"],
    kind="probe",
)
def error_disclosure_probe(ctx: CheckContext) -> CheckResult:
    requests = (
        ("GET", "/v1/compliance-probe-missing", None),
        ("POST", "/oauth2/token", b"\xff\xfe{not json"),
        ("POST", "/v1/vault/pan/tokens", b'{"value": '),
    )
    findings: list[str] = []
    answers: dict[str, int] = {}
    for method, path, body in requests:
        response = ctx.http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
        answers[f"{method} {path}"] = response.status_code
        if response.status_code >= 500 or any(marker in response.text for marker in LEAK_MARKERS):
            findings.append(f"{method} {path}")
    return CheckResult.judge(
        not findings,
        {"answers": answers, "disclosing": findings},
        {"disclosing": [], "answers": "< 500"},
        target=ctx.base_url,
    )
