"""Start and stop hooks run by the app's lifespan (the job scheduler plugs in here): started in
order, stopped in reverse, and the ones already started are stopped if a later one fails."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from core.database import get_engine
from core.jobs.runtime import JobsRuntime, start_embedded
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


class _EmbeddedJobs:
    """The scheduler and worker pool inside `serve` (``RAMPART_SCHEDULER=embedded``)."""

    def __init__(self) -> None:
        self.runtime: JobsRuntime | None = None

    def start(self, settings: Settings) -> None:
        from server.registry import JOB_MODULES

        self.runtime = start_embedded(settings, modules=JOB_MODULES)

    def stop(self, _settings: Settings) -> None:
        if self.runtime is not None:
            self.runtime.stop(timeout=10)
            self.runtime = None


def default_hooks(settings: Settings) -> list[LifespanHook]:
    """The hooks every server runs: the embedded job runtime, then the database pool."""
    from server import security  # the zero-trust guard's composition (imports the domains)

    jobs = _EmbeddedJobs()
    return [
        LifespanHook("database", stop=_dispose_database),
        LifespanHook("authorization", start=security.start, stop=security.stop),
        LifespanHook("jobs", start=jobs.start, stop=jobs.stop),
    ]


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
