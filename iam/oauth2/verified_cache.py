"""Access tokens this process verified lately, so a hot path skips the signature check.

Only tokens that carry everything about their caller (a service's roles are in its signed
claims) are remembered; a user's roles are read from the accounts on every request. An entry
lives until the token's ``exp`` and at most :data:`VERIFIED_CACHE_SECONDS`, so a verification
key withdrawn from the key set stops being honoured within that time; revocation is checked on
every request all the same (:meth:`GuardRevocations.known_not_revoked`).

Entries are keyed by the SHA-256 of the token: a lookup compares digests, never the bearer's
own bytes, and the table holds no usable token.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from core.authz import Principal

VERIFIED_CACHE_SECONDS = 60.0
_MAX_ENTRIES = 50_000  # bounded memory under a flood of distinct tokens


class VerifiedTokens:
    def __init__(
        self, ttl: float = VERIFIED_CACHE_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def remember(self, token: str, principal: Principal, exp: object) -> None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return
        until = min(float(exp), self.clock() + self.ttl)
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (until, principal)

    def recall(self, token: str) -> Principal | None:
        entry = self._entries.get(hashlib.sha256(token.encode()).digest())
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


verified_tokens = VerifiedTokens()
