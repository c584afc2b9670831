from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.iam.accounts.support import db, iam_settings  # noqa: F401 - shared fixtures


@pytest.fixture
def client(iam_settings: Settings) -> Iterator[TestClient]:  # noqa: F811 - the shared fixture
    from server.app import create_app

    with TestClient(create_app(iam_settings)) as test_client:
        yield test_client
