"""DbSession: one unit of work per request, committed before the response, rolled back on error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine

from core.errors import Conflict
from core.http import DbSession
from core.settings import Settings
from server.app import create_app

# A table of this test's own, created and dropped around each test (not in the migrations).
_metadata = MetaData()
notes = Table(
    "test_server_notes",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(50), nullable=False),
)


@pytest.fixture
def notes_table(engine: Engine) -> Iterator[Table]:
    _metadata.create_all(engine)
    yield notes
    _metadata.drop_all(engine)


@pytest.fixture
def app(settings: Settings, notes_table: Table) -> FastAPI:
    app = create_app(settings)

    @app.post("/test/notes/{text}")
    def add_note(text: str, session: DbSession) -> dict[str, str]:
        session.execute(notes_table.insert().values(text=text))
        session.flush()
        if text == "conflict":
            raise Conflict("refused after the flush")
        if text == "crash":
            raise RuntimeError("crash after the flush")
        return {"text": text}

    return app


def _stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(notes.c.text).order_by(notes.c.id)))


def test_the_request_commits_its_unit_of_work(app: FastAPI, engine: Engine) -> None:
    with TestClient(app) as client:
        response = client.post("/test/notes/kept")
    assert response.status_code == 200
    assert _stored(engine) == ["kept"]


@pytest.mark.parametrize(("text", "status"), [("conflict", 409), ("crash", 500)])
def test_an_error_rolls_the_unit_of_work_back(
    app: FastAPI, engine: Engine, text: str, status: int
) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(f"/test/notes/{text}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert _stored(engine) == []
