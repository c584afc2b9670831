"""`rampart compliance`: the control library, check runs, control status, evidence history,
waivers and evidence verification."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table, stderr
from core.errors import ValidationFailed

if TYPE_CHECKING:
    from compliance.controls import ControlLibrary
    from compliance.engine import RunResult, Scope
    from compliance.models import EvidenceRecord

# The compliance engine, its checks and the database layer are imported inside each command:
# `rampart compliance --help` loads none of them (tests/cli/test_startup.py).

app = typer.Typer(
    help="Compliance: controls, check runs, status, evidence history, waivers, verification.",
    no_args_is_help=True,
)

FrameworkOption = typer.Option(None, "--framework", help="pci-dss-4.0.1 or gdpr.")
ControlOption = typer.Option(None, "--control", help="Qualified id, e.g. pci-dss-4.0.1:8.3.4.")


def _library() -> ControlLibrary:
    from compliance.config import ComplianceConfig

    return ComplianceConfig.from_env().library()


@contextmanager
def _acting_as_cli() -> Iterator[str]:
    from core import context

    actor = f"cli:{os.environ.get('SUDO_USER') or os.environ.get('USER') or 'unknown'}"
    token = context.set_current(context.ActingContext(actor=actor, origin="cli"))
    try:
        yield actor
    finally:
        context.reset(token)


@app.command("list")
def list_controls(framework: str | None = FrameworkOption, json_output: bool = JsonOption) -> None:
    """Controls of the library with their frequency, owner and checks."""
    from compliance.posture import checks_of

    with cli_errors():
        library = _library()
        rows: list[dict[str, Any]] = [
            {
                "control": fw.qualified(control),
                "title": control.title,
                "owner_role": control.owner_role,
                "frequency": control.frequency,
                "checks": checks_of(fw, control),
                "manual": control.manual is not None,
            }
            for fw, control in library.controls(framework)
        ]
    if json_output:
        print_json({"controls": rows})
        return
    print_table(
        "Controls",
        ["control", "title", "frequency", "owner", "checks", "manual"],
        [
            [
                r["control"],
                r["title"],
                r["frequency"],
                r["owner_role"],
                ", ".join(r["checks"]),
                "yes" if r["manual"] else "",
            ]
            for r in rows
        ],
    )


def _result_json(item: RunResult) -> dict[str, Any]:
    return {
        "check": item.check,
        "controls": list(item.controls),
        "status": item.status,
        "observed": item.observed,
        "expected": item.expected,
        "evidence_id": str(item.evidence_id),
    }


@app.command("run")
def run_checks(
    framework: str | None = FrameworkOption,
    control: str | None = ControlOption,
    fail_on: str = typer.Option(
        "none", "--fail-on", help="Exit 1 when a control of the scope is: failing, error, none."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Run the automated checks of a framework, a control or all; each result is signed evidence."""
    if fail_on not in ("none", "failing", "error"):
        fail("--fail-on must be none, failing or error")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from compliance.engine import Scope, default_deps, run, select_checks
    from core.database import unit_of_work

    with cli_errors(), _acting_as_cli() as actor:
        library = _library()
        scope = Scope(framework=framework, control=control)
        checks = select_checks(library, scope)
        deps = default_deps()
        show_progress = not json_output and sys.stderr.isatty()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=stderr,
            disable=not show_progress,
            transient=True,
        ) as progress:
            task = progress.add_task("compliance checks", total=len(checks))
            results = run(
                deps,
                library,
                scope,
                triggered_by=actor,
                checks=checks,
                on_result=lambda item: progress.advance(task),
            )
        with unit_of_work(read_only=True) as session:
            statuses = _scoped_posture(session, library, scope)
    if json_output:
        print_json({"results": [_result_json(item) for item in results]})
    else:
        print_table(
            "Check results",
            ["check", "controls", "status", "observed", "expected", "evidence"],
            [
                [
                    r.check,
                    ", ".join(r.controls),
                    r.status,
                    _short(r.observed),
                    _short(r.expected),
                    r.evidence_id,
                ]
                for r in results
            ],
        )
    bad = {"failing"} if fail_on == "failing" else {"failing", "error"}
    if fail_on != "none" and any(item.status in bad for item in statuses):
        raise typer.Exit(1)


def _scoped_posture(session: Any, library: ControlLibrary, scope: Scope) -> list[Any]:
    from compliance.posture import posture
    from core.clock import utcnow

    framework = scope.control.partition(":")[0] if scope.control else scope.framework
    items = posture(session, library, utcnow(), framework)
    return [item for item in items if scope.control in (None, item.control_id)]


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


@app.command("status")
def status(framework: str | None = FrameworkOption, json_output: bool = JsonOption) -> None:
    """Every control's status: pass, failing, error, manual-due or waived, and why."""
    from compliance.posture import posture
    from core.clock import utcnow
    from core.database import unit_of_work

    with cli_errors():
        library = _library()
        with unit_of_work(read_only=True) as session:
            items = posture(session, library, utcnow(), framework)
    if json_output:
        print_json(
            {
                "controls": [
                    {
                        "control": i.control_id,
                        "title": i.title,
                        "status": i.status,
                        "reasons": list(i.reasons),
                        "last_evidence_at": i.last_evidence_at.isoformat()
                        if i.last_evidence_at
                        else None,
                    }
                    for i in items
                ]
            }
        )
        return
    print_table(
        "Control status",
        ["control", "status", "title", "why"],
        [[i.control_id, i.status, i.title, "; ".join(i.reasons)] for i in items],
    )


@app.command("history")
def history(
    control: str | None = ControlOption,
    check_id: str | None = typer.Option(None, "--check", help="Only evidence of this check."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    json_output: bool = JsonOption,
) -> None:
    """Evidence records, newest first."""
    from sqlalchemy import select

    from compliance.models import EvidenceRecord
    from core.database import unit_of_work

    with cli_errors(), unit_of_work(read_only=True) as session:
        query = select(EvidenceRecord).order_by(EvidenceRecord.finished_at.desc())
        if check_id:
            query = query.where(EvidenceRecord.check_id == check_id)
        if control:
            # The column is canonical JSON: an exact quoted id cannot match another id's prefix.
            query = query.where(EvidenceRecord.control_ids.contains(f'"{control}"'))
        records = [_evidence_json(r) for r in session.scalars(query.limit(limit))]
    if json_output:
        print_json({"evidence": records})
        return
    print_table(
        "Evidence",
        ["id", "check", "status", "finished", "audit seq"],
        [[r["id"], r["check"], r["status"], r["finished_at"], r["audit_seq"]] for r in records],
    )


def _evidence_json(record: EvidenceRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "check": record.check_id,
        "check_version": record.check_version,
        "controls": orjson.loads(record.control_ids),
        "status": record.status,
        "observed": orjson.loads(record.observed),
        "expected": orjson.loads(record.expected),
        "detail": record.detail,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat(),
        "collector": record.collector,
        "sha256": record.digest,
        "key_fingerprint": record.key_fingerprint,
        "audit_seq": record.audit_seq,
    }


def _expiry(text: str) -> datetime:
    """An ISO 8601 date/time (UTC when no offset) or a duration from now (P30D, P3M)."""
    from compliance.controls import Frequency
    from core.clock import utcnow

    if text.startswith("P"):
        try:
            return Frequency.parse(text).expires(utcnow())
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"--expires {text!r} is neither a date nor a duration") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("waive")
def waive(
    control: str | None = typer.Argument(None, help="Qualified control id."),
    reason: str = typer.Option("", "--reason"),
    approver: str = typer.Option("", "--approver", help="Who accepted the risk."),
    expires: str = typer.Option("P30D", "--expires", help="Date, or duration from now (P30D)."),
    revoke: str | None = typer.Option(None, "--revoke", help="Revoke the waiver with this id."),
    json_output: bool = JsonOption,
) -> None:
    """Waive a control until an expiry (reason and approver required), or revoke a waiver."""
    from compliance.service import grant_waiver, revoke_waiver
    from core.database import unit_of_work

    with cli_errors(), _acting_as_cli() as actor, unit_of_work() as session:
        if revoke:
            try:
                waiver_id = UUID(revoke)
            except ValueError:
                raise ValidationFailed("--revoke needs a waiver id") from None
            waiver = revoke_waiver(session, waiver_id, actor=actor)
        else:
            if control is None:
                raise ValidationFailed("name the control to waive")
            waiver = grant_waiver(
                session,
                _library(),
                control_id=control,
                reason=reason,
                approver=approver,
                expires_at=_expiry(expires),
                actor=actor,
            )
        data = {
            "id": str(waiver.id),
            "control": waiver.control_id,
            "approver": waiver.approver,
            "expires_at": waiver.expires_at.isoformat(),
            "revoked": waiver.revoked_at is not None,
        }
    if json_output:
        print_json(data)
    else:
        state = "revoked" if data["revoked"] else f"until {data['expires_at']}"
        sys.stdout.write(f"waiver {data['id']} for {data['control']} {state}\n")


@app.command("verify")
def verify(json_output: bool = JsonOption) -> None:
    """Re-verify every evidence record: canonical JSON, signature, artefacts, ledger link."""
    from compliance.verification import verify_evidence
    from core.database import unit_of_work

    with cli_errors():
        from core.kms.provider import get_key_provider

        trusted = [get_key_provider().public_signing_key()]
        with unit_of_work(read_only=True) as session:
            report = verify_evidence(session, trusted)
    if json_output:
        print_json({"ok": report.ok, "checked": report.checked, "problems": report.problems})
    elif report.ok:
        sys.stdout.write(f"{report.checked} evidence records verified\n")
    else:
        for problem in report.problems:
            sys.stderr.write(f"error: {problem}\n")
    if not report.ok:
        raise typer.Exit(1)


remediations_app = typer.Typer(
    help="Remediations of failing controls: list, approve, reject.", no_args_is_help=True
)
app.add_typer(remediations_app, name="remediations")


def _remediation_json(row: Any) -> dict[str, Any]:
    from compliance.remediation_schemas import RemediationOut

    return RemediationOut.of(row).model_dump(mode="json")


def _remediation_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise ValidationFailed(f"{text!r} is not a remediation id") from None


@remediations_app.command("list")
def list_remediations_command(
    status_filter: str | None = typer.Option(
        None, "--status", help="pending, queued, approved, running, succeeded, failed, rejected."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=10000),
    json_output: bool = JsonOption,
) -> None:
    """Remediations, newest first, with what they found to fix and how they ended."""
    from compliance.remediation import list_remediations
    from core.database import unit_of_work

    with cli_errors(), unit_of_work(read_only=True) as session:
        rows = [
            _remediation_json(r)
            for r in list_remediations(session, status=status_filter, limit=limit)
        ]
    if json_output:
        print_json({"remediations": rows})
        return
    print_table(
        "Remediations",
        ["id", "action", "controls", "mode", "status", "proposed", "error"],
        [
            [r["id"], r["action"], ", ".join(r["controls"]), r["mode"], r["status"],
             _short(r["proposed_state"]), r["error"] or ""]
            for r in rows
        ],
    )  # fmt: skip


def _decide(remediation_id: str, note: str, json_output: bool, *, approve: bool) -> None:
    from compliance.remediation import approve_remediation, reject_remediation
    from core.database import unit_of_work

    with cli_errors(), _acting_as_cli() as actor, unit_of_work() as session:
        decide = approve_remediation if approve else reject_remediation
        row = decide(session, _remediation_id(remediation_id), actor=actor, note=note)
        data = _remediation_json(row)
    if json_output:
        print_json(data)
    else:
        sys.stdout.write(f"remediation {data['id']} ({data['action']}) {data['status']}\n")


@remediations_app.command("approve")
def approve_remediation_command(
    remediation_id: str = typer.Argument(..., help="The remediation's id."),
    note: str = typer.Option("", "--note", help="Why (kept in the ledger)."),
    json_output: bool = JsonOption,
) -> None:
    """Approve a pending remediation; the compliance.remediate job runs it (once)."""
    _decide(remediation_id, note, json_output, approve=True)


@remediations_app.command("reject")
def reject_remediation_command(
    remediation_id: str = typer.Argument(..., help="The remediation's id."),
    reason: str = typer.Option("", "--reason", help="Why it must not run (required)."),
    json_output: bool = JsonOption,
) -> None:
    """Reject a pending remediation: it never runs."""
    _decide(remediation_id, reason, json_output, approve=False)
