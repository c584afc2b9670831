"""`rampart evidence`: signed evidence exports for auditors. `export` asks the server, as the
person `rampart login` logged in (the ledger names them, the policies decide); `verify` checks
an export offline; `key` prints the signing key's fingerprint to compare out of band."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from cli.output import JsonOption, cli_errors, fail, print_json

app = typer.Typer(help="Evidence exports: export, verify, key.", no_args_is_help=True)

FrameworkOption = typer.Option(..., "--framework", help="pci-dss-4.0.1 or gdpr.")
FromOption = typer.Option(..., "--from", help="First day of the period (inclusive).")
ToOption = typer.Option(..., "--to", help="End of the period (exclusive).")
AsOfOption = typer.Option(None, "--as-of", help="Show the period as it stood then.")
OutputOption = typer.Option(..., "--output", "-o", help="The zip to write.")
ArchiveArgument = typer.Argument(..., help="The export zip.", exists=True, dir_okay=False)
TrustKeyOption = typer.Option(
    None, "--trust-key", help="PEM of the key you trust (e.g. from `rampart evidence key`)."
)


def _moment(value: str | None, option: str) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time (UTC when no offset is given)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date (2026-01-31) or an ISO 8601 time, not {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("export")
def export_command(
    framework: str = FrameworkOption,
    start: str = FromOption,
    end: str = ToOption,
    as_of: str | None = AsOfOption,
    output: Path = OutputOption,
    json_output: bool = JsonOption,
) -> None:
    """Export the signed evidence of a framework for an audit period into a zip."""
    with cli_errors():
        from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn

        from cli.api import connect

        body = {"framework": framework, "from": _iso(start, "--from"), "to": _iso(end, "--to")}
        if as_of is not None:
            body["as_of"] = _iso(as_of, "--as-of")
        if output.is_dir():
            fail(f"{output} is a directory: give the zip's file name")
        server = connect()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), DownloadColumn())
        with Progress(
            *columns, transient=True, disable=json_output or not sys.stderr.isatty()
        ) as bar:
            task = bar.add_task("building and downloading the export", total=None)
            headers = server.download(
                "/v1/evidence/exports",
                body,
                output,
                on_bytes=lambda done, total: bar.update(task, completed=done, total=total),
            )
    shown = {
        "output": str(output),
        "archive_sha256": headers.get("x-rampart-archive-sha256"),
        "key_fingerprint": headers.get("x-rampart-key-fingerprint"),
    }
    if json_output:
        print_json(shown)
        return
    typer.echo(f"wrote {output}")
    typer.echo(f"sha256 {shown['archive_sha256']}")
    typer.echo(f"signed by the key with fingerprint {shown['key_fingerprint']}")


def _iso(value: str, option: str) -> str:
    moment = _moment(value, option)
    return "" if moment is None else moment.isoformat()


@app.command("verify")
def verify_command(
    archive: Path = ArchiveArgument,
    trust_key: Path | None = TrustKeyOption,
    json_output: bool = JsonOption,
) -> None:
    """Verify an export offline: digests, signatures, evidence records and the ledger segment."""
    with cli_errors():
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PublicFormat,
            load_pem_public_key,
        )

        from compliance.exports.verify import verify_export

        trusted: list[bytes] = []
        if trust_key is not None:
            key = load_pem_public_key(trust_key.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                fail("--trust-key is not an Ed25519 public key")
            trusted.append(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
        result = verify_export(archive, trusted)
    summary = {
        "ok": result.ok,
        "key_fingerprint": result.fingerprint,
        "key_trusted": result.trusted if trust_key is not None else None,
        "members": result.members,
        "evidence_records": result.evidence_records,
        "ledger_entries": result.ledger_entries,
        "checkpoints": result.checkpoints,
        "problems": result.problems,
    }
    untrusted = trust_key is not None and not result.trusted
    if json_output:
        print_json(summary)
    else:
        for problem in result.problems:
            sys.stderr.write(f"problem: {problem}\n")
        if result.ok:
            typer.echo(
                f"ok: {result.members} files, {result.evidence_records} evidence records, "
                f"{result.ledger_entries} ledger entries, {result.checkpoints} checkpoints"
            )
        typer.echo(f"signed by the key with fingerprint {result.fingerprint}")
        if trust_key is None:
            typer.echo("compare it with `rampart evidence key` on the Rampart you trust")
        elif untrusted:
            sys.stderr.write("error: the export is not signed by the key given in --trust-key\n")
    if not result.ok or untrusted:
        raise typer.Exit(1)


@app.command("key")
def key_command(json_output: bool = JsonOption) -> None:
    """The export signing key (PEM on stdout) and its fingerprint, to give auditors."""
    with cli_errors():
        from compliance.exports.archive import public_key_pem
        from core.audit.signing import key_fingerprint
        from core.kms.provider import get_key_provider

        raw = get_key_provider().public_signing_key()
    pem = public_key_pem(raw).decode("ascii")
    if json_output:
        print_json(
            {"algorithm": "Ed25519", "public_key_pem": pem, "fingerprint": key_fingerprint(raw)}
        )
        return
    sys.stdout.write(pem)
    sys.stderr.write(f"fingerprint (SHA-256 of the raw public key): {key_fingerprint(raw)}\n")
