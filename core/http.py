"""Typed FastAPI dependency aliases the domain endpoints use (``DbSession``...).

Domain endpoints are sync ``def``: FastAPI runs them, and these dependencies, in its threadpool
(the vault's lean tokenize and detokenize routes are the exception: vault.hot_endpoints).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from core.database import unit_of_work


def get_db_session() -> Iterator[Session]:
    """One unit of work per request: commit when the endpoint returns, roll back when it raises."""
    with unit_of_work() as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit becomes the
# error response instead of a 200 for a change that was never stored.
DbSession = Annotated[Session, Depends(get_db_session, scope="function")]
