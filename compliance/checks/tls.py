"""TLS probe of every registered endpoint (PCI DSS 4.2.1): handshakes that offer only TLS 1.0/1.1,
or only weak suites, must fail; a default handshake must land on TLS 1.2 or newer.

Handshakes use the standard library's OpenSSL bindings: sslyze, the scanner the design names,
cannot be installed beside the locked ``cryptography`` (see docs/dependencies.md). Certificates
are not judged here (a self-signed internal endpoint is still TLS); protocols and suites are.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from urllib.parse import urlsplit

from compliance.checks.base import CheckContext, CheckResult, check

# Suites no PCI assessor accepts: no encryption, no authentication, export grade, RC4, (3)DES, MD5.
WEAK_SUITES = "eNULL:aNULL:EXPORT:RC4:DES:3DES:MD5:@SECLEVEL=0"
MODERN = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)


def registered_endpoints(ctx: CheckContext) -> list[str]:
    """``host:port`` of each registered endpoint; the issuer when it is https and none is."""
    if ctx.settings.compliance_tls_endpoints:
        return list(ctx.settings.compliance_tls_endpoints)
    issuer = urlsplit(ctx.settings.issuer)
    if issuer.scheme == "https":
        return [f"{issuer.hostname}:{issuer.port or 443}"]
    return []


def _context(low: ssl.TLSVersion, high: ssl.TLSVersion, ciphers: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # protocols are judged here, not the chain of trust
    if ciphers is not None:
        context.set_ciphers(ciphers)  # SSLError when this OpenSSL has none of them
    context.minimum_version, context.maximum_version = low, high
    return context


def _handshake(endpoint: str, context: ssl.SSLContext, timeout: float) -> str | None:
    """The negotiated protocol and suite, or None when the server refused the handshake."""
    host, _, port = endpoint.rpartition(":")
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            suite = tls.cipher()
            return f"{tls.version()} {suite[0] if suite else ''}".strip()
    except (ssl.SSLError, ConnectionResetError):
        return None


def _probe(endpoint: str, timeout: float) -> tuple[dict[str, str | None], list[str]]:
    observed: dict[str, str | None] = {}
    problems: list[str] = []
    anything = _context(ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.MAXIMUM_SUPPORTED, None)
    default = _handshake(endpoint, anything, timeout)
    observed["default"] = default
    if default is None or not default.startswith(("TLSv1.2", "TLSv1.3")):
        problems.append(f"{endpoint}: default handshake gave {default}")
    try:
        with warnings.catch_warnings():  # naming TLS 1.0/1.1 is the point of this handshake
            warnings.simplefilter("ignore", DeprecationWarning)
            legacy = _context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")
        observed["tls1.0-1.1"] = _handshake(endpoint, legacy, timeout)
        if observed["tls1.0-1.1"]:
            problems.append(f"{endpoint}: accepts {observed['tls1.0-1.1']}")
    except (ssl.SSLError, ValueError):
        observed["tls1.0-1.1"] = "not testable with this OpenSSL"
    try:
        weak = _context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, WEAK_SUITES)
        observed["weak_suites"] = _handshake(endpoint, weak, timeout)
        if observed["weak_suites"]:
            problems.append(f"{endpoint}: accepts {observed['weak_suites']}")
    except ssl.SSLError:
        observed["weak_suites"] = "not testable with this OpenSSL"
    return observed, problems


@check(
    "tls.endpoint_protocols_probe",
    title="Registered endpoints negotiate TLS 1.2+ and refuse TLS 1.0/1.1 and weak suites",
    controls=[
        "pci-dss-4.0.1:4.2.1",
        "pci-dss-4.0.1:2.2.7",
        "pci-dss-4.0.1:8.3.2",
        "pci-dss-4.0.1:12.3.3",
    ],
    kind="probe",
    timeout_seconds=60,
)
def endpoint_protocols_probe(ctx: CheckContext) -> CheckResult:
    endpoints = registered_endpoints(ctx)
    if not endpoints:
        # Failing, not "not applicable": account data and credentials would cross the network
        # in clear unless TLS is terminated somewhere, and that endpoint must then be registered.
        return CheckResult(
            "fail",
            {"endpoints": [], "issuer": ctx.settings.issuer},
            {"endpoints": "at least one https endpoint"},
            "the issuer is plain http and no TLS endpoint is registered "
            "(RAMPART_COMPLIANCE_TLS_ENDPOINTS)",
        )
    timeout = float(ctx.options.get("tls_timeout_seconds", 5.0))
    observed: dict[str, dict[str, str | None]] = {}
    problems: list[str] = []
    for endpoint in endpoints:
        try:
            observed[endpoint], found = _probe(endpoint, timeout)
        except OSError as exc:
            observed[endpoint], found = {"error": type(exc).__name__}, [f"{endpoint}: unreachable"]
        problems += found
    return CheckResult.judge(
        not problems,
        {"endpoints": observed, "problems": problems},
        {"problems": []},
        target=", ".join(endpoints),
    )
