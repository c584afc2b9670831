"""Cached factories for the configured key provider and the unwrapped-key cache (tests reset)."""

from __future__ import annotations

import functools

from core.kms.base import KeyEncryptionProvider
from core.kms.cache import DataKeyCache
from core.settings import get_settings


@functools.cache
def get_key_provider() -> KeyEncryptionProvider:
    """The provider ``RAMPART_KMS`` names: ``local`` key file or ``vault`` Transit."""
    settings = get_settings()
    if settings.kms == "vault":
        from core.kms.vault import VaultTransitProvider

        return VaultTransitProvider(settings)
    from core.kms.local import LocalKeyProvider

    return LocalKeyProvider(settings.resolved_local_key_file)


@functools.cache
def get_data_key_cache() -> DataKeyCache:
    settings = get_settings()
    return DataKeyCache(max_size=settings.key_cache_size, ttl=settings.key_cache_ttl)


def reset_key_provider() -> None:
    """Forget the provider and every cached unwrapped key (tests and settings changes)."""
    if get_data_key_cache.cache_info().currsize:
        get_data_key_cache().clear()
    get_data_key_cache.cache_clear()
    get_key_provider.cache_clear()
