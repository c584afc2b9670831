"""Typed FastAPI dependency aliases the domain endpoints use (``DbSession``...).

Domain endpoints are sync ``def``: FastAPI runs them, and these dependencies, in its threadpool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from core.database import unit_of_work


def get_db_session() -> Iterator[Session]:
    """One unit of work per request: commit when the endpoint returns, roll back when it raises."""
    with unit_of_work() as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit becomes the
# error response instead of a 200 for a change that was never stored.
DbSession = Annotated[Session, Depends(get_db_session, scope="function")]


# A hot path's handler (server.fast_paths): the answer, or None to let the routed endpoint answer.
FastHandler = Callable[[Request, bytes], Awaitable[Response | None]]


@dataclass(frozen=True, slots=True)
class FastPath:
    """A hot path in front of the route at ``path`` (also the label metrics give the request)."""

    path: str
    handler: FastHandler
    max_body_bytes: int
