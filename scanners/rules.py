"""The catalogue of engine-independent rule keys: what each finding is, its default risk, its
CWE and the ZAP plugin id that reports the same issue. Every engine maps its own findings onto
these keys, so the same issue found by two engines is one finding (same fingerprint)."""

from __future__ import annotations

from dataclasses import dataclass

RISKS = ("info", "low", "medium", "high", "critical")
CONFIDENCES = ("low", "medium", "high", "confirmed")


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    title: str
    risk: str
    cwe: int | None
    zap_plugin_id: int | None
    solution: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.key: rule for rule in rules}


RULES: dict[str, Rule] = _rules(
    Rule("csp-missing", "Content-Security-Policy header not set", "medium", 693, 10038,
         "Send a Content-Security-Policy that limits where scripts, frames and forms may go."),
    Rule("hsts-missing", "Strict-Transport-Security header not set", "low", 319, 10035,
         "Send Strict-Transport-Security with a max-age of at least six months on https."),
    Rule("content-type-options-missing", "X-Content-Type-Options header missing", "low", 693,
         10021, "Send X-Content-Type-Options: nosniff on every response."),
    Rule("frame-protection-missing", "Missing anti-clickjacking header", "medium", 1021, 10020,
         "Send CSP frame-ancestors (or X-Frame-Options: DENY / SAMEORIGIN)."),
    Rule("referrer-policy-missing", "Referrer-Policy header not set", "low", 200, None,
         "Send Referrer-Policy: strict-origin-when-cross-origin or stricter."),
    Rule("cookie-no-httponly", "Cookie without the HttpOnly flag", "low", 1004, 10010,
         "Set HttpOnly on every cookie scripts need not read (sessions above all)."),
    Rule("cookie-no-secure", "Cookie without the Secure flag", "low", 614, 10011,
         "Set Secure on every cookie of an https site."),
    Rule("cookie-no-samesite", "Cookie without the SameSite attribute", "low", 1275, 10054,
         "Set SameSite=Lax or Strict (None only together with Secure, where needed)."),
    Rule("cors-misconfiguration", "CORS allows any origin with credentials", "high", 942, 10098,
         "Allow-list the origins that may read responses; never reflect Origin with credentials."),
    Rule("server-version-disclosure", "Server header discloses its version", "low", 497, 10036,
         "Remove the version from the Server header (e.g. nginx server_tokens off)."),
    Rule("powered-by-disclosure", "X-Powered-By header discloses a version", "low", 497, 10037,
         "Remove the X-Powered-By header."),
    Rule("mixed-content", "Secure page includes mixed content", "medium", 311, 10040,
         "Load every resource of an https page over https."),
    Rule("directory-listing", "Directory listing enabled", "medium", 548, 0,
         "Turn off directory indexes on the web server."),
    Rule("card-number-disclosure", "Card number (PAN) in a response", "high", 359, 10062,
         "Never show a full PAN: mask it (first six / last four at most) or tokenize it."),
    Rule("email-disclosure", "E-mail address (personal data) in a response", "low", 359, None,
         "Show personal data only to whom it belongs and only where needed."),
    Rule("sri-missing", "Third-party script without Subresource Integrity", "medium", 345, 90003,
         "Add an integrity attribute (sha384) to scripts and styles from other origins."),
    Rule("tls-legacy-protocol", "TLS 1.0 or 1.1 accepted", "high", 326, None,
         "Accept TLS 1.2 and 1.3 only (PCI DSS 4.2.1)."),
)  # fmt: skip


def risk_rank(risk: str) -> int:
    """Position of ``risk`` in :data:`RISKS` (unknown risks rank as info)."""
    return RISKS.index(risk) if risk in RISKS else 0
