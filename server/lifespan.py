"""Start and stop hooks run by the app's lifespan (the job scheduler plugs in here): started in
order, stopped in reverse, and the ones already started are stopped if a later one fails."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from core.database import get_engine
from core.logging import get_logger
from core.settings import Settings

HookCallable = Callable[[Settings], Awaitable[None] | None]

log = get_logger(__name__)


@dataclass(frozen=True)
class LifespanHook:
    """``start`` runs before the first request, ``stop`` after the last; either may be async."""

    name: str
    start: HookCallable | None = None
    stop: HookCallable | None = None


async def _call(hook: HookCallable, settings: Settings) -> None:
    result = hook(settings)
    if inspect.isawaitable(result):
        await result


def _dispose_database(_settings: Settings) -> None:
    # Close pooled connections at shutdown; a later get_engine() still works (tests reuse it).
    if get_engine.cache_info().currsize:
        get_engine().dispose()


def default_hooks(settings: Settings) -> list[LifespanHook]:
    """The hooks every server runs. Add the scheduler here (e.g. when settings.scheduler ==
    "embedded") once it exists."""
    return [LifespanHook("database", stop=_dispose_database)]


def build_lifespan(
    settings: Settings, hooks: Sequence[LifespanHook]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for hook in hooks:
                if hook.start is not None:
                    log.info("starting", hook=hook.name)
                    await _call(hook.start, settings)
                if hook.stop is not None:
                    stack.push_async_callback(_stop, hook, settings)
            yield

    return lifespan


async def _stop(hook: LifespanHook, settings: Settings) -> None:
    assert hook.stop is not None  # noqa: S101 - only pushed when set
    try:
        await _call(hook.stop, settings)
    except Exception:
        # One failing stop must not keep the others from releasing their resources.
        log.exception("stopping failed", hook=hook.name)
    else:
        log.info("stopped", hook=hook.name)
