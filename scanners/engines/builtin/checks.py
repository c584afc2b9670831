"""The passive rules of the built-in engine: each a function of one fetched page yielding
observations under the rule keys of ``scanners.rules``. Nothing here sends a request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from core.sensitive import card_numbers_in
from scanners.engines.base import Observation
from scanners.engines.builtin.crawl import PROBE_ORIGIN, origin_of
from scanners.engines.builtin.page import Page

PageCheck = Callable[[Page], Iterator[Observation]]

_VERSIONED = re.compile(r"[A-Za-z][\w.-]*/\d+(\.\d+)*")
_DIGIT = re.compile(r"\d")
_LISTING = re.compile(
    r"<title>\s*(Index of /|Directory listing for /)|<h1>\s*(Index of /|Directory listing for /)",
    re.IGNORECASE,
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
)
_SNIPPET = 40  # characters of context either side of a match in evidence


def security_headers(page: Page) -> Iterator[Observation]:
    headers = page.headers
    if "x-content-type-options" not in headers or (
        headers["x-content-type-options"].strip().lower() != "nosniff"
    ):
        yield Observation(
            "content-type-options-missing", page.url, parameter="x-content-type-options"
        )
    if page.is_https and "strict-transport-security" not in headers:
        yield Observation("hsts-missing", page.url, parameter="strict-transport-security")
    if not page.is_html or page.status >= 300:
        return  # the document headers matter where a browser renders a document
    csp = headers.get("content-security-policy", "")
    if not csp:
        yield Observation("csp-missing", page.url, parameter="content-security-policy")
    if "frame-ancestors" not in csp.lower() and headers.get(
        "x-frame-options", ""
    ).strip().upper() not in ("DENY", "SAMEORIGIN"):
        yield Observation("frame-protection-missing", page.url, parameter="x-frame-options")
    if "referrer-policy" not in headers:
        yield Observation("referrer-policy-missing", page.url, parameter="referrer-policy")


def cookie_flags(page: Page) -> Iterator[Observation]:
    for header in page.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0].strip()
        attributes = {part.split("=", 1)[0].strip().lower() for part in header.split(";")[1:]}
        evidence = f"Set-Cookie: {name}=...; {'; '.join(sorted(attributes))}".rstrip("; ")
        if "httponly" not in attributes:
            yield Observation("cookie-no-httponly", page.url, parameter=name, evidence=evidence)
        if page.is_https and "secure" not in attributes:
            yield Observation("cookie-no-secure", page.url, parameter=name, evidence=evidence)
        if "samesite" not in attributes:
            yield Observation("cookie-no-samesite", page.url, parameter=name, evidence=evidence)


def cors(page: Page) -> Iterator[Observation]:
    allowed = page.headers.get("access-control-allow-origin", "").strip()
    credentials = page.headers.get("access-control-allow-credentials", "").strip().lower()
    if allowed not in ("*", PROBE_ORIGIN):
        return
    with_credentials = credentials == "true"
    if allowed == "*" and not with_credentials:
        return  # a public resource; browsers send no credentials to a wildcard
    evidence = f"Access-Control-Allow-Origin: {allowed}"
    if with_credentials:
        evidence += "; Access-Control-Allow-Credentials: true"
    yield Observation(
        "cors-misconfiguration",
        page.url,
        parameter="access-control-allow-origin",
        evidence=evidence,
        risk=None if with_credentials else "medium",
        confidence="high",
    )


def version_disclosure(page: Page) -> Iterator[Observation]:
    server = page.headers.get("server", "")
    if _VERSIONED.search(server):
        yield Observation(
            "server-version-disclosure",
            page.url,
            parameter="server",
            evidence=f"Server: {server[:100]}",
            confidence="high",
        )
    powered = page.headers.get("x-powered-by", "")
    if _DIGIT.search(powered):
        yield Observation(
            "powered-by-disclosure",
            page.url,
            parameter="x-powered-by",
            evidence=f"X-Powered-By: {powered[:100]}",
            confidence="high",
        )


def mixed_content(page: Page) -> Iterator[Observation]:
    if not page.is_https:
        return
    for resource in page.resources:
        if resource.url.startswith("http://"):
            yield Observation(
                "mixed-content",
                page.url,
                parameter=resource.url,
                evidence=f"<{resource.tag}> {resource.url}",
            )


def directory_listing(page: Page) -> Iterator[Observation]:
    if page.is_html and page.status == 200 and _LISTING.search(page.text[:4096]):
        yield Observation(
            "directory-listing",
            page.url,
            evidence=_snippet_at(page.text, _LISTING),
            confidence="high",
        )


def card_numbers(page: Page) -> Iterator[Observation]:
    match = next(card_numbers_in(page.text), None)
    if match is not None:
        count = sum(1 for _ in card_numbers_in(page.text))
        evidence = page.text[max(0, match.start() - _SNIPPET) : match.end() + _SNIPPET]
        # Masked again by the findings service; the count tells how many the page holds.
        yield Observation(
            "card-number-disclosure",
            page.url,
            evidence=f"{count} card number(s): {evidence}",
            confidence="high",
        )


def personal_data(page: Page) -> Iterator[Observation]:
    if not page.is_html and "json" not in page.headers.get("content-type", ""):
        return
    found = [m.group() for m in _EMAIL.finditer(page.text)]
    if found:
        yield Observation(
            "email-disclosure",
            page.url,
            evidence=f"{len(found)} e-mail address(es), e.g. {_mask_email(found[0])}",
        )


def subresource_integrity(page: Page) -> Iterator[Observation]:
    own = origin_of(page.url)
    for resource in page.resources:
        if resource.tag not in ("script", "link") or resource.integrity:
            continue
        if urlsplit(resource.url).scheme in ("http", "https") and origin_of(resource.url) != own:
            yield Observation(
                "sri-missing",
                page.url,
                parameter=resource.url,
                evidence=f"<{resource.tag}> {resource.url} without integrity",
            )


PAGE_CHECKS: tuple[PageCheck, ...] = (
    security_headers,
    cookie_flags,
    cors,
    version_disclosure,
    mixed_content,
    directory_listing,
    card_numbers,
    personal_data,
    subresource_integrity,
)


def _snippet_at(text: str, pattern: re.Pattern[str]) -> str:
    match = pattern.search(text)
    return text[match.start() : match.end() + _SNIPPET].strip() if match else ""


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
