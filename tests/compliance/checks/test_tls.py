"""The TLS probe against real local TLS servers (self-signed certificates made here): one that
speaks TLS 1.2+ only, one that also accepts TLS 1.0/1.1 and weak suites."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.compliance.checks.conftest import ContextFactory, run


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _serve(context: ssl.SSLContext) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                with context.wrap_socket(raw, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                raw.close()

    thread = threading.Thread(target=accept, name="tls-test-server", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture
def modern_endpoint(tmp_path: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_certificate(tmp_path))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    yield from _serve(context)


@pytest.fixture
def legacy_endpoint(tmp_path: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_certificate(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("ALL:eNULL:@SECLEVEL=0")
    yield from _serve(context)


def test_tls_probe_passes_on_an_endpoint_with_tls_12_and_up_only(
    read_context: ContextFactory, modern_endpoint: str
) -> None:
    result = run(
        "tls.endpoint_protocols_probe", read_context(compliance_tls_endpoints=[modern_endpoint])
    )
    assert result.status == "pass", result
    assert result.observed["endpoints"][modern_endpoint]["default"].startswith("TLSv1.3")
    assert result.observed["endpoints"][modern_endpoint]["tls1.0-1.1"] is None


def test_tls_probe_fails_on_an_endpoint_accepting_legacy_protocols_or_weak_suites(
    read_context: ContextFactory, legacy_endpoint: str
) -> None:
    result = run(
        "tls.endpoint_protocols_probe", read_context(compliance_tls_endpoints=[legacy_endpoint])
    )
    assert result.status == "fail"
    seen = result.observed["endpoints"][legacy_endpoint]
    # This machine's OpenSSL may refuse TLS 1.0 even at security level 0; the weak suites remain.
    assert seen["tls1.0-1.1"] or seen["weak_suites"], seen


def test_tls_probe_fails_when_nothing_is_registered_and_the_issuer_is_plain_http(
    read_context: ContextFactory,
) -> None:
    result = run("tls.endpoint_protocols_probe", read_context(issuer="http://127.0.0.1:8000"))
    assert result.status == "fail"
    assert "RAMPART_COMPLIANCE_TLS_ENDPOINTS" in result.detail
    unreachable = run("tls.endpoint_protocols_probe", read_context(issuer="https://127.0.0.1:9"))
    assert unreachable.status == "fail"
    assert unreachable.observed["problems"] == ["127.0.0.1:9: unreachable"]
