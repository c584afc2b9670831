"""`rampart keys`: list the keys, rotate the key-encryption key, rewrap data keys under it.

The KMS and database modules are imported inside the commands: `--help` stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from cli.output import JsonOption, cli_errors, print_json, print_table, stderr, stdout

if TYPE_CHECKING:
    from uuid import UUID

app = typer.Typer(help="Key management: list, rotate, rewrap.", no_args_is_help=True)

BatchSizeOption = typer.Option(500, "--batch-size", min=1, help="Data keys per KMS round trip.")


@app.command("list")
def list_keys(json_output: bool = JsonOption) -> None:
    """Show the key-encryption key, the signing key fingerprint and data keys per KEK version."""
    with cli_errors():
        from core.database import unit_of_work
        from core.kms import service
        from core.kms.provider import get_key_provider

        provider = get_key_provider()
        kek = provider.info()
        fingerprint = service.signing_key_fingerprint()
        with unit_of_work() as session:
            live, destroyed = service.data_key_counts(session)
    if json_output:
        print_json(
            {
                "provider": kek.provider,
                "kek": kek.name,
                "latest_version": kek.latest_version,
                "min_decryption_version": kek.min_decryption_version,
                "versions": list(kek.versions),
                "latest_created_at": kek.created_at,
                "signing_key_fingerprint": fingerprint,
                "data_keys_by_kek_version": {str(v): n for v, n in live.items()},
                "data_keys_destroyed": destroyed,
            }
        )
        return
    print_table(
        "Key-encryption key",
        ["provider", "name", "latest", "min decryption", "versions", "latest created"],
        [
            [
                kek.provider,
                kek.name,
                kek.latest_version,
                kek.min_decryption_version,
                ", ".join(map(str, kek.versions)),
                kek.created_at,
            ]
        ],
    )
    stdout.print(f"signing key (Ed25519) SHA-256: {fingerprint}")
    rows: list[list[Any]] = [[v, n] for v, n in live.items()]
    print_table("Data keys per KEK version", ["KEK version", "data keys"], rows)
    stdout.print(f"destroyed data keys: {destroyed}")


@app.command("rotate")
def rotate(
    json_output: bool = JsonOption,
    no_rewrap: bool = typer.Option(
        False, "--no-rewrap", help="Only rotate; rewrap later with `rampart keys rewrap`."
    ),
    batch_size: int = BatchSizeOption,
) -> None:
    """Add a key-encryption key version, then rewrap every data key under it."""
    with cli_errors():
        from core.database import unit_of_work
        from core.kms import service
        from core.kms.provider import get_key_provider

        before = get_key_provider().info()
        with unit_of_work() as session:
            kek = service.rotate_key_encryption_key(session)
        rewrapped = 0 if no_rewrap else _rewrap(kek.latest_version, batch_size, json_output)
        with unit_of_work() as session:
            remaining = service.count_data_keys_to_rewrap(session, kek.latest_version)
    summary = {
        "provider": kek.provider,
        "kek": kek.name,
        "from_version": before.latest_version,
        "latest_version": kek.latest_version,
        "rewrapped": rewrapped,
        "remaining": remaining,
    }
    if json_output:
        print_json(summary)
    else:
        stdout.print(
            f"rotated {kek.name} ({kek.provider}) from version {before.latest_version} to "
            f"{kek.latest_version}; rewrapped {rewrapped} data keys, {remaining} left"
        )


@app.command("rewrap")
def rewrap(json_output: bool = JsonOption, batch_size: int = BatchSizeOption) -> None:
    """Rewrap data keys still under an older KEK version (resumes an interrupted rotation)."""
    with cli_errors():
        from core.kms.provider import get_key_provider

        kek = get_key_provider().info()
        rewrapped = _rewrap(kek.latest_version, batch_size, json_output)
    if json_output:
        print_json({"latest_version": kek.latest_version, "rewrapped": rewrapped})
    else:
        stdout.print(f"rewrapped {rewrapped} data keys to version {kek.latest_version}")


def _rewrap(latest_version: int, batch_size: int, quiet: bool) -> int:
    """Rewrap batch by batch, each in its own transaction so readers and writers keep going."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from core.database import unit_of_work
    from core.kms import service

    with unit_of_work() as session:
        total = service.count_data_keys_to_rewrap(session, latest_version)
    done = 0
    after: UUID | None = None
    progress = Progress(
        TextColumn("rewrapping data keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,  # stdout stays clean for --json
        disable=quiet,
    )
    with progress:
        task = progress.add_task("rewrap", total=total)
        while True:
            with unit_of_work() as session:
                batch = service.rewrap_data_key_batch(
                    session, below_version=latest_version, after=after, batch_size=batch_size
                )
            if batch.last_id is None:
                break
            done, after = done + batch.rewrapped, batch.last_id
            progress.update(task, completed=done)
    with unit_of_work() as session:
        service.record_rewrap(session, rewrapped=done, to_version=latest_version)
    return done
