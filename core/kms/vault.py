"""OpenBao/HashiCorp Vault Transit provider on hvac: wrapping under a derived aes256-gcm96 key,
server-side rewrap, Ed25519 signing; token or AppRole auth with re-login.

Why a derived key and not ``associated_data``: Transit accepts ``associated_data`` on encrypt and
decrypt of non-derived keys, but ``rewrap`` takes no associated data (checked on OpenBao 2.7:
rewrap of such a ciphertext fails authentication), so rewrap would need the plaintext here.
With ``derived=true`` the caller's context selects an HKDF-derived key on every operation,
rewrap included, which binds the context as tightly and keeps rewrap inside the KMS.
"""

from __future__ import annotations

import base64
import functools
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from core.errors import KmsUnavailable
from core.kms.base import KekInfo, WrappedKey
from core.kms.exceptions import KeyUnwrapFailed, KmsAccessDenied, KmsMisconfigured
from core.settings import Settings

T = TypeVar("T")

# OpenBao refuses JSON bodies with more than about 1000 strings (listener JSON limits); a batch
# item costs 4 (two keys, two values), so larger batches go out in chunks of this many items.
TRANSIT_BATCH_ITEMS = 200
# Derived keys refuse an empty context; the prefix also separates Rampart's uses of the key.
CONTEXT_PREFIX = b"rampart/kek/v1\x00"
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.RequestException,
    hvac.exceptions.VaultDown,
    hvac.exceptions.InternalServerError,
    hvac.exceptions.BadGateway,
    hvac.exceptions.RateLimitExceeded,
    hvac.exceptions.UnexpectedError,
    hvac.exceptions.VaultNotInitialized,
)


class VaultTransitProvider:
    """Key-encryption and signing keys that never leave OpenBao/Vault Transit."""

    name = "vault"

    def __init__(self, settings: Settings) -> None:
        self.addr = settings.vault_addr
        self.mount = settings.vault_transit_mount
        self.kek_name = settings.vault_transit_key
        self.signing_key_name = settings.vault_signing_key
        self._approle_mount = settings.vault_approle_mount
        self._role_id = settings.vault_role_id
        self._secret_id = settings.vault_secret_id
        static_token = settings.vault_token.get_secret_value() if settings.vault_token else None
        if static_token is None and not (self._role_id and self._secret_id):
            raise KmsMisconfigured(
                "RAMPART_KMS=vault needs RAMPART_VAULT_TOKEN or "
                "RAMPART_VAULT_ROLE_ID and RAMPART_VAULT_SECRET_ID"
            )
        self._uses_approle = static_token is None
        self._client = hvac.Client(
            url=self.addr,
            token=static_token,
            timeout=settings.vault_timeout,  # type: ignore[arg-type]  # requests takes float seconds
        )
        # types-hvac leaves most Transit methods untyped; responses are JSON dicts either way.
        self._transit: Any = self._client.secrets.transit
        self._login_lock = threading.Lock()
        self._token_renew_at: float | None = None

    # -- keys ----------------------------------------------------------------------------------

    def ensure_keys(self) -> list[str]:
        created = []
        kek = self._read_key_if_present(self.kek_name)
        if kek is None:
            self._call(
                lambda: self._transit.create_key(
                    self.kek_name, key_type="aes256-gcm96", derived=True, mount_point=self.mount
                )
            )
            created.append(f"transit key {self.mount}/{self.kek_name}")
        elif not kek.get("derived"):
            raise KmsMisconfigured(
                f"transit key {self.kek_name!r} exists without derivation; Rampart needs an "
                "aes256-gcm96 key created with derived=true"
            )
        if self._read_key_if_present(self.signing_key_name) is None:
            self._call(
                lambda: self._transit.create_key(
                    self.signing_key_name, key_type="ed25519", mount_point=self.mount
                )
            )
            created.append(f"transit signing key {self.mount}/{self.signing_key_name}")
        return created

    def rotate(self) -> KekInfo:
        self._call(lambda: self._transit.rotate_key(self.kek_name, mount_point=self.mount))
        return self.info()

    def info(self) -> KekInfo:
        data = self._read_key(self.kek_name)
        latest = int(data["latest_version"])
        versions = tuple(sorted(int(v) for v in data.get("keys", {})))
        created = data.get("keys", {}).get(str(latest))
        return KekInfo(
            name=self.kek_name,
            provider=self.name,
            latest_version=latest,
            min_decryption_version=int(data.get("min_decryption_version", 1)),
            created_at=_iso(created),
            versions=versions,
        )

    # -- wrapping ------------------------------------------------------------------------------

    def wrap(self, plaintext_key: bytes, *, context: bytes = b"") -> WrappedKey:
        return self.wrap_many([(plaintext_key, context)])[0]

    def wrap_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[WrappedKey]:
        if not items:
            return []
        wrapped: list[WrappedKey] = []
        for chunk in _chunks(items):
            batch = [{"plaintext": _b64(key), "context": _context(ctx)} for key, ctx in chunk]
            response = self._call(
                functools.partial(
                    self._transit.encrypt_data,
                    self.kek_name,
                    batch_input=batch,
                    mount_point=self.mount,
                )
            )
            wrapped.extend(_wrapped(text) for text in _batch_field(response, "ciphertext"))
        return wrapped

    def unwrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> bytes:
        text = wrapped.ciphertext.decode("ascii")
        response = self._call(
            lambda: self._transit.decrypt_data(
                self.kek_name, ciphertext=text, context=_context(context), mount_point=self.mount
            )
        )
        return base64.b64decode(response["data"]["plaintext"])

    def rewrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> WrappedKey:
        return self.rewrap_many([(wrapped, context)])[0]

    def rewrap_many(self, items: Sequence[tuple[WrappedKey, bytes]]) -> list[WrappedKey]:
        if not items:
            return []
        rewrapped: list[WrappedKey] = []
        for chunk in _chunks(items):
            batch = [
                {"ciphertext": wrapped.ciphertext.decode("ascii"), "context": _context(ctx)}
                for wrapped, ctx in chunk
            ]
            response = self._call(
                functools.partial(
                    self._transit.rewrap_data,
                    self.kek_name,
                    ciphertext=None,
                    batch_input=batch,
                    mount_point=self.mount,
                )
            )
            rewrapped.extend(_wrapped(text) for text in _batch_field(response, "ciphertext"))
        return rewrapped

    # -- signing -------------------------------------------------------------------------------

    def sign(self, message: bytes) -> bytes:
        response = self._call(
            lambda: self._transit.sign_data(
                self.signing_key_name, hash_input=_b64(message), mount_point=self.mount
            )
        )
        signature: str = response["data"]["signature"]
        return base64.b64decode(signature.rsplit(":", 1)[1])

    def public_signing_key(self) -> bytes:
        data = self._read_key(self.signing_key_name)
        latest = str(data["latest_version"])
        return base64.b64decode(data["keys"][latest]["public_key"])

    def check(self) -> None:
        # Read the key first: with a `create` grant, Transit's encrypt would otherwise quietly
        # create a brand-new key when ours is gone, and the round trip would look healthy.
        if not self._read_key(self.kek_name).get("derived"):
            raise KmsMisconfigured(f"transit key {self.kek_name!r} is not a derived key")
        probe = secrets.token_bytes(32)
        if self.unwrap(self.wrap(probe, context=b"health"), context=b"health") != probe:
            raise KmsUnavailable(f"OpenBao/Vault at {self.addr} failed a wrap/unwrap round trip")

    # -- plumbing ------------------------------------------------------------------------------

    def _read_key(self, name: str) -> dict[str, Any]:
        response = self._call(lambda: self._transit.read_key(name, mount_point=self.mount))
        data: dict[str, Any] = response["data"]
        return data

    def _read_key_if_present(self, name: str) -> dict[str, Any] | None:
        try:
            return self._read_key(name)
        except KmsKeyMissing:
            return None

    def _call(self, operation: Callable[[], T]) -> T:
        """Run one hvac call; translate every failure into a Rampart error naming the KMS only."""
        for attempt in (1, 2):
            self._login_if_needed()
            try:
                return operation()
            except hvac.exceptions.Forbidden:
                if self._uses_approle and attempt == 1:
                    # The AppRole token may have expired between our clock and Vault's.
                    self._token_renew_at = 0.0
                    continue
                raise KmsAccessDenied(
                    f"OpenBao/Vault at {self.addr} denied the request; check the token and the "
                    f"policy on {self.mount}/ (see docs/kms.md)"
                ) from None
            except hvac.exceptions.InvalidRequest as exc:
                if any("authentication failed" in e for e in exc.errors or ()):
                    raise KeyUnwrapFailed(
                        "wrapped key does not authenticate under this context"
                    ) from None
                raise KmsMisconfigured(
                    f"OpenBao/Vault rejected the request: {_errors(exc)}"
                ) from None
            except hvac.exceptions.InvalidPath as exc:
                raise KmsKeyMissing(
                    f"OpenBao/Vault at {self.addr} has no such path (is transit mounted at "
                    f"{self.mount}/ and do the keys exist?): {_errors(exc)}"
                ) from None
            except UNAVAILABLE_ERRORS as exc:
                raise KmsUnavailable(
                    f"OpenBao/Vault at {self.addr} is unavailable ({type(exc).__name__})"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _login_if_needed(self) -> None:
        if not self._uses_approle:
            return
        with self._login_lock:
            if self._token_renew_at is not None and time.monotonic() < self._token_renew_at:
                return
            secret_id = self._secret_id.get_secret_value() if self._secret_id else None
            try:
                response = self._client.auth.approle.login(
                    role_id=self._role_id, secret_id=secret_id, mount_point=self._approle_mount
                )
            except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden):
                raise KmsAccessDenied(
                    f"OpenBao/Vault at {self.addr} refused the AppRole login "
                    f"(mount {self._approle_mount}/); check role_id and secret_id"
                ) from None
            except UNAVAILABLE_ERRORS as exc:
                raise KmsUnavailable(
                    f"OpenBao/Vault at {self.addr} is unavailable ({type(exc).__name__})"
                ) from None
            lease = float(response["auth"].get("lease_duration") or 0)
            # Log in again before the token's last tenth of life (and at least 5 s early).
            margin = max(5.0, lease / 10)
            self._token_renew_at = time.monotonic() + lease - margin if lease else float("inf")


class KmsKeyMissing(KmsMisconfigured):
    """Transit answered 404: the key (or the mount) is not there."""


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), TRANSIT_BATCH_ITEMS):
        yield items[start : start + TRANSIT_BATCH_ITEMS]


def _context(context: bytes) -> str:
    return _b64(CONTEXT_PREFIX + context)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _wrapped(text: str) -> WrappedKey:
    # Transit ciphertexts read "vault:v<version>:<base64>".
    version = int(text.split(":", 2)[1].removeprefix("v"))
    return WrappedKey(ciphertext=text.encode("ascii"), kek_version=version)


def _batch_field(response: dict[str, Any], field: str) -> list[str]:
    results: list[dict[str, Any]] = response["data"]["batch_results"]
    values = []
    for item in results:
        error = item.get("error")
        if error:
            if "authentication failed" in error:
                raise KeyUnwrapFailed("wrapped key does not authenticate under this context")
            raise KmsMisconfigured(f"OpenBao/Vault rejected a batch item: {error}")
        values.append(str(item[field]))
    return values


def _errors(exc: hvac.exceptions.VaultError) -> str:
    return "; ".join(exc.errors or ()) or type(exc).__name__


def _iso(unix_seconds: object) -> str | None:
    if isinstance(unix_seconds, int | float):
        return datetime.fromtimestamp(unix_seconds, UTC).isoformat()
    return str(unix_seconds) if unix_seconds else None
