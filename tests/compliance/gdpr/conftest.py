from __future__ import annotations

import pytest

from core.kms.keyfile import create_local_key_file
from core.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with a local KMS key file (packages are sealed under data keys)."""
    create_local_key_file(settings.resolved_local_key_file)
    return settings
