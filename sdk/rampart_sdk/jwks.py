"""Rampart's signing keys, fetched from its JWKS and cached: refetched when a token names an
unknown ``kid`` (at most once per ``min_refetch_seconds``) or when the cache is older than
``max_age_seconds``; a failed refetch keeps the keys already known."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from jose import jwk
from jose.backends.base import Key
from jose.exceptions import JOSEError

from rampart_sdk.errors import RampartUnavailable

SUPPORTED_ALGS = ("ES256", "RS256")  # what python-jose verifies (Rampart's EdDSA keys are skipped)


class JwksCache:
    def __init__(
        self,
        jwks_uri: str,
        *,
        http: httpx.Client | None = None,
        max_age_seconds: float = 300.0,
        min_refetch_seconds: float = 10.0,
    ) -> None:
        self.jwks_uri = jwks_uri
        self._http = http or httpx.Client(timeout=5.0)
        self._max_age = max_age_seconds
        self._min_refetch = min_refetch_seconds
        self._keys: dict[str, tuple[str, Key]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetch_count = 0

    def key(self, kid: str) -> tuple[str, Key] | None:
        """(alg, key) for ``kid``; None when Rampart does not publish it (even after a refetch)."""
        now = time.monotonic()
        fetched = self._fetched_at
        if fetched is None or now - fetched > self._max_age:
            self._refresh(force=True)
        found = self._keys.get(kid)
        if found is None:
            self._refresh(force=False)
            found = self._keys.get(kid)
        return found

    def _refresh(self, *, force: bool) -> None:
        with self._lock:
            now = time.monotonic()
            fetched = self._fetched_at
            # Unknown kids are an attacker's cheapest lever: refetch at most once per interval.
            if fetched is not None:
                age = now - fetched
                if (force and age <= self._max_age) or (not force and age < self._min_refetch):
                    return  # another thread refreshed, or an unknown kid asked too soon
            try:
                response = self._http.get(self.jwks_uri)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                self._fetched_at = now  # back off; keep the keys we have
                if not self._keys:
                    raise RampartUnavailable(f"JWKS not reachable at {self.jwks_uri}") from exc
                return
            self._keys = _parse(document)
            self._fetched_at = now
            self.fetch_count += 1


def _parse(document: Any) -> dict[str, tuple[str, Key]]:
    keys: dict[str, tuple[str, Key]] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        alg = entry.get("alg")
        if alg not in SUPPORTED_ALGS or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = (alg, jwk.construct(entry, alg))
        except JOSEError:
            continue
    return keys
