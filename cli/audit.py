"""`rampart audit`: verify the hash chain and signed checkpoints, list recent entries, sign
checkpoints that are due, and hand an auditor a checkpoint and the public key in the form
`openssl pkeyutl -verify` reads (docs/audit.md).

Database, KMS and crypto modules are imported inside the commands: `--help` stays fast.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from pathlib import Path
from typing import Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table

app = typer.Typer(
    help="Audit ledger: verify the hash chain and checkpoints, list entries, export a "
    "checkpoint and the public key for OpenSSL.",
    no_args_is_help=True,
)

PublicKeyOption = typer.Option(
    None,
    "--public-key",
    help="Trusted Ed25519 public key (raw, hex or base64); repeat for rotated keys. "
    "Default: the signing key of the configured KMS.",
)

MESSAGE_FILE = "message.bin"
SIGNATURE_FILE = "signature.bin"
CheckpointOutputOption = typer.Option(
    None,
    "--output",
    "-o",
    help=f"Write {MESSAGE_FILE} (the exact signed bytes) and {SIGNATURE_FILE} (the raw 64-byte "
    "signature) into this directory, for `openssl pkeyutl -verify`.",
)
PemOutputOption = typer.Option(
    None, "--output", "-o", help="Write the PEM to this file instead of stdout."
)


@app.command("verify")
def verify_command(
    json_output: bool = JsonOption,
    public_key: list[str] | None = PublicKeyOption,
    batch: int = typer.Option(20_000, "--batch", min=1, help="Entries fetched per round trip."),
    workers: int = typer.Option(
        0,
        "--workers",
        min=0,
        help="Processes walking ranges of the chain at once (0: one per CPU core). Ledgers "
        "under 100,000 entries a process are walked in one.",
    ),
) -> None:
    """Recompute every hash and check every checkpoint; exit 1 naming the first bad seq."""
    with cli_errors():
        from core.audit.verification import verify
        from core.database import unit_of_work
        from core.kms.provider import get_key_provider

        trusted = [_parse_public_key(k) for k in public_key or []]
        if not trusted:
            trusted = [get_key_provider().public_signing_key()]
        with unit_of_work(read_only=True) as session:
            result = verify(session, trusted, batch=batch, workers=workers or os.cpu_count() or 1)
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
    limit: int = typer.Option(
        20, "-n", "--limit", min=1, max=10_000, help="How many entries (default 20)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """The most recent entries, newest first."""
    with cli_errors():
        from core.audit import repository
        from core.database import unit_of_work

        with unit_of_work(read_only=True) as session:
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


@app.command("sign")
def sign_command(
    force: bool = typer.Option(False, "--force", help="Sign the head now even if not yet due."),
    json_output: bool = JsonOption,
) -> None:
    """Sign the checkpoints that are due (every N entries, or the head after T seconds)."""
    with cli_errors():
        from core.audit.checkpoints import sign_due_checkpoints
        from core.database import unit_of_work
        from core.kms.provider import get_key_provider
        from core.settings import get_settings

        settings = get_settings()
        seconds = 0.0 if force else settings.audit_checkpoint_seconds
        with unit_of_work() as session:
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


@app.command("checkpoint")
def checkpoint_command(
    seq: int | None = typer.Argument(None, help="The checkpoint's seq. Default: the newest."),
    output: Path | None = CheckpointOutputOption,
    json_output: bool = JsonOption,
) -> None:
    """Show a signed checkpoint: the signed message and its signature (base64)."""
    with cli_errors():
        from core.audit import repository
        from core.audit.models import AuditCheckpoint
        from core.audit.signing import checkpoint_message
        from core.database import unit_of_work

        with unit_of_work(read_only=True) as session:
            checkpoint = (
                repository.last_checkpoint(session)
                if seq is None
                else session.get(AuditCheckpoint, seq)
            )
            if checkpoint is None:
                fail("no checkpoint signed yet" if seq is None else f"no checkpoint at seq {seq}")
            message = checkpoint_message(checkpoint.seq, checkpoint.hash)
            shown = {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "signed_at": checkpoint.signed_at.isoformat(),
                "key_fingerprint": checkpoint.key_fingerprint,
                "message": message.decode("ascii"),
                "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
            }
            signature = bytes(checkpoint.signature)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / MESSAGE_FILE).write_bytes(message)
        (output / SIGNATURE_FILE).write_bytes(signature)
    if json_output:
        print_json(shown)
        return
    for name, value in shown.items():
        typer.echo(f"{name}: {value}")
    if output is not None:
        typer.echo(f"wrote {output / MESSAGE_FILE} and {output / SIGNATURE_FILE}")


@app.command("public-key")
def public_key_command(
    output: Path | None = PemOutputOption,
    json_output: bool = JsonOption,
) -> None:
    """The checkpoint signing key's public key as PEM (stdout) and its fingerprint (stderr)."""
    with cli_errors():
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        from core.audit.signing import key_fingerprint
        from core.kms.provider import get_key_provider

        raw = get_key_provider().public_signing_key()
        pem = (
            Ed25519PublicKey.from_public_bytes(raw)
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )
    fingerprint = key_fingerprint(raw)
    if output is not None:
        output.write_text(pem, encoding="ascii")
    if json_output:
        print_json({"algorithm": "Ed25519", "public_key_pem": pem, "fingerprint": fingerprint})
        return
    if output is None:
        sys.stdout.write(pem)
    # On stderr, so `rampart audit public-key > public-key.pem` writes the PEM alone.
    sys.stderr.write(f"fingerprint (SHA-256 of the raw public key): {fingerprint}\n")


def _parse_public_key(value: str) -> bytes:
    value = value.strip()
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        fail("--public-key must be a raw 32-byte Ed25519 key in hex or base64")
    return raw
