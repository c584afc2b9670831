"""Runs registered checks, each in its own thread with its timeout, and records every result as
signed evidence. A crashing or hanging check becomes an ``error`` result, never a crash of the
run. The engine is a transaction boundary (like a job): each result commits with its ledger entry,
so a run stopped half-way keeps what it proved. At the end, failing controls that name a
remediation get one proposed (compliance/remediation.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

import httpx
import orjson
from sqlalchemy.orm import Session, sessionmaker

from compliance.checks import load_all
from compliance.checks.base import (
    REGISTRY,
    CheckContext,
    CheckResult,
    Json,
    RegisteredCheck,
)
from compliance.controls import ControlLibrary
from compliance.drift import record_transitions
from compliance.evidence import Outcome, record_evidence
from compliance.exceptions import UnknownControl
from compliance.models import CheckRun, EvidenceRecord
from compliance.remediation import propose_remediations
from core.audit.signing import Signer
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import RampartError
from core.settings import Settings


@dataclass(frozen=True)
class Scope:
    """What a run covers: everything, one framework, or one qualified control."""

    framework: str | None = None
    control: str | None = None

    def __str__(self) -> str:
        return self.control or self.framework or "all"


@dataclass(frozen=True)
class RunResult:
    check: str
    controls: tuple[str, ...]
    status: str
    observed: Json
    expected: Json
    evidence_id: UUID
    detail: str = ""


@dataclass
class EngineDeps:
    """What a run needs from the process: settings, sessions, the signing key, live HTTP."""

    settings: Settings
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    signer: Signer
    base_url: str
    collector: str = field(default_factory=lambda: f"rampart-engine@{socket.gethostname()}")


def select_checks(library: ControlLibrary, scope: Scope) -> list[RegisteredCheck]:
    """The registered checks of the controls in ``scope`` (all registered checks for ``all``)."""
    load_all()
    if scope.framework is None and scope.control is None:
        return sorted(REGISTRY.values(), key=lambda item: item.id)
    if scope.control is not None:
        try:
            framework, control = library.control(scope.control)
        except KeyError:
            raise UnknownControl(f"unknown control {scope.control!r}") from None
        wanted = {framework.qualified(control)}
        named = set(control.checks)
    else:
        if scope.framework not in library.frameworks:
            raise UnknownControl(f"unknown framework {scope.framework!r}")
        pairs = list(library.controls(scope.framework))
        wanted = {framework.qualified(control) for framework, control in pairs}
        named = {check_id for _, control in pairs for check_id in control.checks}
    chosen = [
        item for item in REGISTRY.values() if item.id in named or wanted.intersection(item.controls)
    ]
    return sorted(chosen, key=lambda item: item.id)


def run_check(check: RegisteredCheck, context: CheckContext) -> CheckResult:
    """``check`` in a daemon thread, waited for at most its timeout. A thread still running then
    is abandoned (Python cannot stop it); its session is closed when it finally returns."""
    box: dict[str, CheckResult | BaseException] = {}

    def target() -> None:
        try:
            box["result"] = check.function(context)
        except BaseException as exc:  # a check's failure is data, reported as an error result
            box["result"] = exc
        finally:
            context.session.rollback()
            context.session.close()

    thread = threading.Thread(target=target, name=f"compliance-check-{check.id}", daemon=True)
    thread.start()
    thread.join(check.timeout_seconds)
    outcome = box.get("result")
    if outcome is None:
        return CheckResult(
            "error",
            None,
            None,
            detail=f"check did not finish within its timeout of {check.timeout_seconds:g} s",
        )
    if isinstance(outcome, BaseException):
        return CheckResult("error", None, None, detail=_safe_detail(outcome))
    if not isinstance(outcome, CheckResult):
        return CheckResult("error", None, None, detail="check returned no CheckResult")
    return outcome


def _safe_detail(exc: BaseException) -> str:
    """Only Rampart's own errors carry a message meant for users; others name their class, since
    a driver's or library's message may hold a URL, a query or a value."""
    if isinstance(exc, RampartError):
        return f"check raised {type(exc).__name__}: {exc.detail}"[:500]
    return f"check raised {type(exc).__name__}"


def run(
    deps: EngineDeps,
    library: ControlLibrary,
    scope: Scope = Scope(),
    *,
    triggered_by: str = "system",
    options: Mapping[str, Mapping[str, Json]] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    checks: Iterable[RegisteredCheck] | None = None,
) -> list[RunResult]:
    """Run the checks of ``scope`` one after another; every result is committed as evidence."""
    selected = list(checks) if checks is not None else select_checks(library, scope)
    with unit_of_work(deps.sessions) as session:
        check_run = CheckRun(scope=str(scope)[:200], triggered_by=triggered_by[:255])
        session.add(check_run)
        session.flush()
        run_id = check_run.id
    results: list[RunResult] = []
    with httpx.Client(base_url=deps.base_url, timeout=10.0) as http:
        for check in selected:
            context = CheckContext(
                settings=deps.settings,
                session=deps.read_sessions(),
                sessions=deps.sessions,
                http=http,
                base_url=deps.base_url,
                now=utcnow(),
                options=(options or {}).get(check.id, {}),
            )
            started = utcnow()
            result = run_check(check, context)
            outcome = Outcome(check, result, started, utcnow())
            with unit_of_work(deps.sessions) as session:
                record = record_evidence(
                    session, deps.signer, outcome, collector=deps.collector, run_id=run_id
                )
            item = _run_result(record, check, result)
            results.append(item)
            if on_result is not None:
                on_result(item)
    with unit_of_work(deps.sessions) as session:
        stored = session.get(CheckRun, run_id)
        if stored is not None:
            stored.finished_at = utcnow()
            stored.results = len(results)
            stored.failures = sum(1 for item in results if item.status == "fail")
            stored.errors = sum(1 for item in results if item.status == "error")
        touched = {control for item in selected for control in item.controls}
        record_transitions(session, library, utcnow(), touched)
        propose_remediations(
            session, library, deps.settings, utcnow(), touched | _scope_controls(library, scope)
        )
    return results


def _scope_controls(library: ControlLibrary, scope: Scope) -> set[str]:
    """The qualified controls ``scope`` names (a control, a framework's, or all)."""
    if scope.control is not None:
        return {scope.control}
    return {fw.qualified(control) for fw, control in library.controls(scope.framework)}


def _run_result(record: EvidenceRecord, check: RegisteredCheck, result: CheckResult) -> RunResult:
    return RunResult(
        check=check.id,
        controls=check.controls,
        status=result.status,
        observed=orjson.loads(record.observed),
        expected=orjson.loads(record.expected),
        evidence_id=record.id,
        detail=record.detail,
    )


def default_deps() -> EngineDeps:
    """The process's settings, database, KMS signing key and public URL."""
    from core.database import get_read_only_sessionmaker, get_sessionmaker
    from core.kms.provider import get_key_provider
    from core.settings import get_settings

    settings = get_settings()
    return EngineDeps(
        settings=settings,
        sessions=get_sessionmaker(),
        read_sessions=get_read_only_sessionmaker(),
        signer=get_key_provider(),
        base_url=settings.issuer,
    )
