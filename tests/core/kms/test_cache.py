"""The unwrapped-key cache stays within its size, forgets after its TTL, evicts LRU first."""

from __future__ import annotations

from uuid import uuid4

from core.kms.cache import DataKeyCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_size_limit_evicts_least_recently_used() -> None:
    cache = DataKeyCache(max_size=3, ttl=60)
    ids = [uuid4() for _ in range(5)]
    for i, key_id in enumerate(ids[:3]):
        cache.put(key_id, bytes([i]) * 32)
    assert cache.get(ids[0]) == b"\x00" * 32  # ids[0] is now the most recent
    cache.put(ids[3], b"\x03" * 32)
    cache.put(ids[4], b"\x04" * 32)
    assert len(cache) == 3
    assert ids[1] not in cache and ids[2] not in cache
    assert cache.get(ids[0]) is not None and cache.get(ids[4]) is not None


def test_ttl_expires_entries() -> None:
    clock = FakeClock()
    cache = DataKeyCache(max_size=10, ttl=5, clock=clock)
    key_id = uuid4()
    cache.put(key_id, b"k" * 32)
    clock.now += 4.9
    assert cache.get(key_id) == b"k" * 32
    clock.now += 0.2
    assert cache.get(key_id) is None
    assert len(cache) == 0


def test_zero_size_or_ttl_disables_caching_and_evict_removes() -> None:
    key_id = uuid4()
    for cache in (DataKeyCache(max_size=0, ttl=60), DataKeyCache(max_size=10, ttl=0)):
        cache.put(key_id, b"k" * 32)
        assert cache.get(key_id) is None
    cache = DataKeyCache(max_size=10, ttl=60)
    cache.put(key_id, b"k" * 32)
    cache.evict(key_id)
    assert cache.get(key_id) is None
