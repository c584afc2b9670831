"""Compact JWS for the three signing algorithms Rampart uses (ES256, EdDSA, RS256), straight on
``cryptography``: key generation, public JWK export, signing and strict verification.

Written by hand rather than through a JOSE library because the token endpoint signs on every
request (a generic library re-imports the key each time) and because the verifier must refuse
anything outside an explicit allow-list: no ``none``, no HMAC, alg must match the key's own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

SUPPORTED_ALGS = ("ES256", "EdDSA", "RS256")

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


class JwsError(ValueError):
    """A compact JWS that is malformed or whose signature does not verify (no detail leaked)."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwsError("bad base64url") from exc


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def private_key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise ValueError("unsupported private key type")
    return key


def _int_b64(value: int, length: int | None = None) -> str:
    size = length or (value.bit_length() + 7) // 8
    return b64url_encode(value.to_bytes(size, "big"))


def public_jwk(public_key: PublicKey, *, kid: str, alg: str) -> dict[str, Any]:
    """The public JWK as published in the JWKS (``use: sig``)."""
    jwk: dict[str, Any]
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _int_b64(numbers.x, 32),
            "y": _int_b64(numbers.y, 32),
        }
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    else:
        rsa_numbers = public_key.public_numbers()
        jwk = {"kty": "RSA", "n": _int_b64(rsa_numbers.n), "e": _int_b64(rsa_numbers.e)}
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


def _b64_int(text: Any) -> int:
    if not isinstance(text, str):
        raise JwsError("bad JWK member")
    return int.from_bytes(b64url_decode(text), "big")


def public_key_from_jwk(jwk: dict[str, Any]) -> tuple[str, PublicKey]:
    """``(alg, public key)`` of a JWK; the alg comes from the key type, never trusted alone."""
    kty = jwk.get("kty")
    try:
        if kty == "EC" and jwk.get("crv") == "P-256":
            numbers = ec.EllipticCurvePublicNumbers(
                _b64_int(jwk["x"]), _b64_int(jwk["y"]), ec.SECP256R1()
            )
            return "ES256", numbers.public_key()
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            return "EdDSA", ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        if kty == "RSA":
            rsa_numbers = rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"]))
            key = rsa_numbers.public_key()
            if key.key_size < 2048:
                raise JwsError("RSA key too small")
            return "RS256", key
    except (KeyError, ValueError) as exc:
        raise JwsError("bad JWK") from exc
    raise JwsError("unsupported JWK type")


def alg_of_private_key(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    return "RS256"


def _raw_sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sign_compact(header: dict[str, Any], claims: dict[str, Any], key: PrivateKey) -> str:
    signing_input = (
        b64url_encode(orjson.dumps(header)) + "." + b64url_encode(orjson.dumps(claims))
    ).encode("ascii")
    return signing_input.decode("ascii") + "." + b64url_encode(_raw_sign(key, signing_input))


@dataclass(frozen=True, slots=True)
class ParsedJws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: str) -> ParsedJws:
    """Split and decode without verifying; raises JwsError on anything malformed."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise JwsError("not a compact JWS")
    try:
        header = orjson.loads(b64url_decode(parts[0]))
        claims = orjson.loads(b64url_decode(parts[1]))
    except orjson.JSONDecodeError as exc:
        raise JwsError("bad JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwsError("header and claims must be JSON objects")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    return ParsedJws(header, claims, signing_input, b64url_decode(parts[2]))


def verify_signature(parsed: ParsedJws, alg: str, key: PublicKey) -> None:
    """Verify with ``key`` under ``alg``, which must be the key's own algorithm."""
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(parsed.signature) != 64:
                raise JwsError("bad signature length")
            r = int.from_bytes(parsed.signature[:32], "big")
            s = int.from_bytes(parsed.signature[32:], "big")
            key.verify(encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(hashes.SHA256()))
        elif alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(parsed.signature, parsed.signing_input)
        elif alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(parsed.signature, parsed.signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise JwsError("algorithm does not match the key")
    except InvalidSignature as exc:
        raise JwsError("bad signature") from exc


def half_hash(value: str, alg: str) -> str:
    """OIDC ``at_hash``/``c_hash``: left half of the alg's hash (SHA-512 for Ed25519)."""
    digest = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256
    full = digest(value.encode("ascii")).digest()
    return b64url_encode(full[: len(full) // 2])
