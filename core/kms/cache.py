"""Bounded, time-limited LRU cache of unwrapped data-encryption keys, so hot keys skip the KMS.

Entries leave after ``ttl`` seconds or when ``max_size`` is reached (least recently used first).
Python cannot wipe ``bytes`` from memory; bounding the cache bounds how many keys are resident.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID


class DataKeyCache:
    def __init__(
        self, max_size: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_size = max_size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[UUID, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_id: UUID) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None:
                return None
            expires_at, key = entry
            if self._clock() >= expires_at:
                del self._entries[key_id]
                return None
            self._entries.move_to_end(key_id)
            return key

    def put(self, key_id: UUID, key: bytes) -> None:
        if self.max_size <= 0 or self.ttl <= 0:
            return
        with self._lock:
            self._entries[key_id] = (self._clock() + self.ttl, key)
            self._entries.move_to_end(key_id)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def evict(self, key_id: UUID) -> None:
        with self._lock:
            self._entries.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries
