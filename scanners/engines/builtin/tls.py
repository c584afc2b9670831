"""TLS protocol check of an https target with the standard library (sslyze is not installable
here): a handshake limited to TLS 1.0 or 1.1 that succeeds means the server still accepts it.
Certificates are not judged here (the handshake does not verify them): only the protocol."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from scanners.engines.base import Observation
from vault.proxy.destinations import PinnedTarget

LEGACY = (("TLSv1", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1))


def legacy_protocols(url: str, target: PinnedTarget, timeout: float) -> Iterator[Observation]:
    if not url.startswith("https://"):
        return
    port = target.base_url.port or 443
    for name, version in LEGACY:
        if _accepts(str(target.address), port, target.sni_hostname, version, timeout):
            yield Observation(
                "tls-legacy-protocol",
                url,
                parameter=name,
                evidence=f"handshake with {name} succeeded",
                confidence="high",
            )


def _accepts(
    address: str, port: int, sni: str | None, version: ssl.TLSVersion, timeout: float
) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # probing the protocol, not trusting the peer
    try:
        context.minimum_version = version
        context.maximum_version = version
        context.set_ciphers("ALL:@SECLEVEL=0")  # the local OpenSSL must be able to offer it
    except (ValueError, ssl.SSLError):
        return False  # this OpenSSL cannot speak it at all: nothing to learn
    try:
        with (
            socket.create_connection((address, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=sni),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False
