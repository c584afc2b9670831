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
    # Active rules (wapiti, ZAP). Plugin ids from the registry in zaproxy's docs/scanners.md.
    Rule("xss-reflected", "Cross-site scripting (reflected)", "high", 79, 40012,
         "Encode every value for the context it is written into; send a strict CSP."),
    Rule("xss-persistent", "Cross-site scripting (persistent)", "high", 79, 40014,
         "Encode stored values on output for their context; validate them on input."),
    Rule("html-injection", "HTML injection", "medium", 80, None,
         "Encode every value written into HTML."),
    Rule("sql-injection", "SQL injection", "high", 89, 40018,
         "Use parameterised queries; never build SQL from request values; hide database errors."),
    Rule("sql-injection-blind", "SQL injection (blind)", "high", 89, 40018,
         "Use parameterised queries; never build SQL from request values."),
    Rule("crlf-injection", "CRLF injection (HTTP response splitting)", "medium", 113, 40003,
         "Reject CR and LF in values written into response headers."),
    Rule("ssrf", "Server-side request forgery", "high", 918, 40046,
         "Fetch only allow-listed destinations; vet the resolved address (no internal ranges)."),
    Rule("path-traversal", "Path traversal", "high", 22, 6,
         "Map request values to an allow-list of files; never join them into a file path."),
    Rule("remote-file-inclusion", "Remote file inclusion", "high", 98, 7,
         "Never load code or templates from a location a request names."),
    Rule("command-injection", "OS command injection", "critical", 78, 90020,
         "Do not run shell commands built from request values; pass argument lists."),
    Rule("open-redirect", "Open redirect", "medium", 601, 10028,
         "Redirect only to relative paths or allow-listed hosts."),
    Rule("ldap-injection", "LDAP injection", "high", 90, 40015,
         "Escape request values in LDAP filters (RFC 4515)."),
    Rule("xxe", "XML external entity injection", "high", 611, 90023,
         "Disable DTDs and external entities in the XML parser."),
    Rule("log4shell", "Log4Shell (CVE-2021-44228)", "critical", 117, 40043,
         "Upgrade Log4j to 2.17.1 or later."),
    Rule("spring4shell", "Spring4Shell (CVE-2022-22965)", "critical", 94, 40045,
         "Upgrade Spring Framework to 5.3.18 / 5.2.20 or later."),
    Rule("shellshock", "Shellshock (CVE-2014-6271)", "critical", 78, 10048,
         "Upgrade bash; do not run CGI scripts through it."),
    Rule("backup-file", "Backup file disclosed", "medium", 530, 10095,
         "Remove backup copies from the document root."),
    Rule("file-upload-unrestricted", "Unrestricted file upload", "high", 434, 40041,
         "Allow-list upload types, store uploads outside the document root, never execute them."),
    Rule("csrf", "Absence of anti-CSRF tokens", "medium", 352, 10202,
         "Protect state-changing forms with a CSRF token or SameSite cookies."),
    Rule("insecure-http-method", "Insecure HTTP method allowed", "medium", 749, 90028,
         "Allow only the methods the application serves."),
    Rule("htaccess-bypass", "Access control bypassed by another HTTP method", "medium", 285, None,
         "Enforce access control for every method, not only GET and POST."),
    Rule("weak-credentials", "Weak credentials accepted", "high", 521, None,
         "Refuse default and common passwords; lock out repeated failures."),
    Rule("vulnerable-software", "Software with a known vulnerability", "high", 1104, None,
         "Upgrade the component to a version without the known vulnerability."),
    Rule("tls-misconfiguration", "TLS/SSL misconfiguration", "medium", 326, None,
         "Serve a valid certificate with TLS 1.2+ and strong suites only."),
    # What an engine reports that no rule above names: the engine's own id, title and CWE go
    # into the observation (parameter / evidence) so nothing is dropped.
    Rule("external-alert", "Issue reported by an external engine", "medium", None, None,
         "See the engine's description of the issue (kept in the finding's evidence)."),
)  # fmt: skip

# ZAP pluginId -> our rule key (several ZAP ids map to one key: SQLi by database, and so on).
# The first rule naming an id wins (sql-injection before sql-injection-blind).
ZAP_PLUGIN_RULES: dict[int, str] = {
    rule.zap_plugin_id: rule.key
    for rule in reversed(RULES.values())
    if rule.zap_plugin_id is not None
} | {
    40016: "xss-persistent", 40017: "xss-persistent", 40026: "xss-reflected",
    40019: "sql-injection", 40020: "sql-injection", 40021: "sql-injection",
    40022: "sql-injection", 40024: "sql-injection", 40027: "sql-injection",
    20019: "open-redirect", 10033: "directory-listing",
}  # fmt: skip


def risk_rank(risk: str) -> int:
    """Position of ``risk`` in :data:`RISKS` (unknown risks rank as info)."""
    return RISKS.index(risk) if risk in RISKS else 0
