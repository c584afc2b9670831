"""`rampart audit`: verify the hash chain and signed checkpoints, list recent entries, sign
checkpoints that are due."""

from __future__ import annotations

import base64
import binascii
import sys
from typing import Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table
from core.audit import repository
from core.audit.checkpoints import sign_due_checkpoints
from core.audit.verification import verify
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.settings import get_settings

app = typer.Typer(
    help="Audit ledger: verify the hash chain and checkpoints, list entries.",
    no_args_is_help=True,
)

PublicKeyOption = typer.Option(
    None,
    "--public-key",
    help="Trusted Ed25519 public key (raw, hex or base64); repeat for rotated keys. "
    "Default: the signing key of the configured KMS.",
)


@app.command("verify")
def verify_command(
    json_output: bool = JsonOption,
    public_key: list[str] | None = PublicKeyOption,
    batch: int = typer.Option(20_000, "--batch", min=1, help="Entries fetched per round trip."),
) -> None:
    """Recompute every hash and check every checkpoint; exit 1 naming the first bad seq."""
    with cli_errors():
        trusted = [_parse_public_key(k) for k in public_key or []]
        if not trusted:
            trusted = [get_key_provider().public_signing_key()]
        with unit_of_work(read_only=True) as session:
            result = verify(session, trusted, batch=batch)
    problem = result.problem
    if json_output:
        print_json(
            {
                "ok": result.ok,
                "count": result.count,
                "checkpoints_verified": result.checkpoints_verified,
                "problem": None
                if problem is None
                else {"seq": problem.seq, "kind": problem.kind.value, "reason": problem.reason},
            }
        )
    if problem is not None:
        sys.stderr.write(f"FAILED {problem}\n")
        raise typer.Exit(1)
    if not json_output:
        typer.echo(
            f"OK: {result.count} entries, {result.checkpoints_verified} checkpoints verified"
        )


@app.command("tail")
def tail_command(
    limit: int = typer.Option(20, "--limit", min=1, max=10_000, help="How many entries."),
    json_output: bool = JsonOption,
) -> None:
    """The most recent entries, newest first."""
    with cli_errors(), unit_of_work(read_only=True) as session:
        entries = repository.recent_entries(session, limit)
    rows: list[dict[str, Any]] = [
        {
            "seq": e.seq,
            "occurred_at": e.occurred_at.isoformat(),
            "actor": e.actor,
            "event_type": e.event_type,
            "outcome": e.outcome,
            "origin": e.origin,
            "resource": e.resource,
            "request_id": e.request_id,
            "details": e.details,
            "hash": e.hash,
        }
        for e in entries
    ]
    if json_output:
        print_json(rows)
        return
    columns = ["seq", "occurred_at", "actor", "event_type", "outcome", "origin", "resource"]
    print_table("Audit ledger", columns, [[row[c] for c in columns] for row in rows])


@app.command("checkpoint")
def checkpoint_command(
    force: bool = typer.Option(False, "--force", help="Sign the head now even if not yet due."),
    json_output: bool = JsonOption,
) -> None:
    """Sign the checkpoints that are due (every N entries, or the head after T seconds)."""
    settings = get_settings()
    seconds = 0.0 if force else settings.audit_checkpoint_seconds
    with cli_errors(), unit_of_work() as session:
        written = sign_due_checkpoints(
            session, get_key_provider(), settings.audit_checkpoint_every, seconds
        )
        signed = [(cp.seq, cp.hash) for cp in written]
    if json_output:
        print_json([{"seq": seq, "hash": entry_hash} for seq, entry_hash in signed])
        return
    typer.echo(
        f"signed {len(signed)} checkpoint(s)" + (f" up to seq {signed[-1][0]}" if signed else "")
    )


def _parse_public_key(value: str) -> bytes:
    value = value.strip()
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        fail("--public-key must be a raw 32-byte Ed25519 key in hex or base64")
    return raw
