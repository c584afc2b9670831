"""Start and stop hooks run by the app's lifespan (the job scheduler plugs in here): started in
order, stopped in reverse, and the ones already started are stopped if a later one fails."""

from __future__ import annotations

import gc
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from core.audit.writer import close_audit_writer
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


def _close_audit_writer(_settings: Settings) -> None:
    # Requests start the group-commit writer on first use; its queue commits before the pool closes.
    close_audit_writer()


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
    """The hooks every server runs: the embedded job runtime, then the audit writer, then the
    database pool."""
    from server import security  # the zero-trust guard's composition (imports the domains)

    jobs = _EmbeddedJobs()
    return [
        LifespanHook("database", stop=_dispose_database),
        LifespanHook("audit writer", stop=_close_audit_writer),
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
            _freeze_startup_objects()
            yield

    return lifespan


_frozen = False


def _freeze_startup_objects() -> None:
    """What start-up built (modules, routes, the policy, caches) lives as long as the process:
    once per process it is moved out of the cyclic collector's sight, so the full collections
    that come with load no longer walk it. Measured on tokenize under wrk: p99 from about
    150 ms to about 35 ms (docs/performance.md)."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


async def _stop(hook: LifespanHook, settings: Settings) -> None:
    assert hook.stop is not None  # noqa: S101 - only pushed when set
    try:
        await _call(hook.stop, settings)
    except Exception:
        # One failing stop must not keep the others from releasing their resources.
        log.exception("stopping failed", hook=hook.name)
    else:
        log.info("stopped", hook=hook.name)
