"""`rampart vault`: tokenize, detokenize, reveal and stats from the operator's shell.

Values and tokens are read from stdin or a file, one per line, never from the command line
(argv shows up in `ps`, shell history and audit logs of the host).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import RampartError
from vault import access, lifecycle, service
from vault.ids import public_id
from vault.proxy import routes as proxy_routes
from vault.records import MAX_BATCH_ITEMS, TokenizeRequest, TokenRecord

app = typer.Typer(
    help="Tokenization vault: tokenize, detokenize, reveal, stats, proxy routes.",
    no_args_is_help=True,
)
route_app = typer.Typer(
    help="Proxy routes: allow-listed destinations and the fields they (de)tokenize.",
    no_args_is_help=True,
)
app.add_typer(route_app, name="route")

TypeOption = typer.Option(..., "--type", "-t", help="Token type: pan, cvc, email, phone, ...")
TenantOption = typer.Option("rampart", "--tenant", help="Tenant whose tokens these are.")
FileOption = typer.Option(
    None, "--file", "-f", help="Read one item per line from this file (default: stdin)."
)


def _lines(path: Path | None) -> list[str]:
    stream = path.open(encoding="utf-8") if path else sys.stdin
    try:
        lines = [line.rstrip("\r\n") for line in stream]
    finally:
        if path:
            stream.close()
    lines = [line for line in lines if line]
    if not lines:
        fail("nothing to do: give one item per line on stdin or in --file")
    return lines


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), MAX_BATCH_ITEMS):
        yield items[start : start + MAX_BATCH_ITEMS]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _emit(rows: list[dict[str, Any]], json_output: bool, column: str) -> None:
    if json_output:
        print_json(rows)
        return
    for row in rows:
        if "error" in row:
            sys.stderr.write(f"error: line {row['line']}: {row['error']}\n")
        else:
            sys.stdout.write(f"{row[column]}\n")


def _error_row(line: int, error: RampartError) -> dict[str, Any]:
    return {"line": line, "error": error.detail, "type": error.type}


@app.command("tokenize")
def tokenize(
    token_type: str = TypeOption,
    path: Path | None = FileOption,
    tenant: str = TenantOption,
    token_format: str | None = typer.Option(None, "--format", help="Token format."),
    subject: str | None = typer.Option(None, "--subject", help="Data subject (customer id)."),
    ttl: int | None = typer.Option(None, "--ttl", help="Expire tokens after this many seconds."),
    json_output: bool = JsonOption,
) -> None:
    """Tokenize values read from stdin or --file; prints one token per line."""
    values = _lines(path)
    rows: list[dict[str, Any]] = []
    with cli_errors():
        for offset, chunk in enumerate(_chunks(values)):
            with unit_of_work() as session:
                outcomes = service.tokenize_batch(
                    session,
                    tenant=tenant,
                    token_type=token_type,
                    items=[TokenizeRequest(v, subject, ttl, token_format) for v in chunk],
                    actor=_actor(),
                )
            for index, outcome in enumerate(outcomes):
                line = offset * MAX_BATCH_ITEMS + index + 1
                rows.append(_token_row(line, outcome))
    _emit(rows, json_output, "token")
    if any("error" in row for row in rows):
        raise typer.Exit(1)


def _token_row(line: int, outcome: TokenRecord | RampartError) -> dict[str, Any]:
    if isinstance(outcome, RampartError):
        return _error_row(line, outcome)
    return {
        "line": line,
        "id": public_id(outcome.id),
        "token": outcome.token,
        "expires_at": outcome.expires_at.isoformat() if outcome.expires_at else None,
    }


@app.command("detokenize")
def detokenize(
    token_type: str = TypeOption,
    purpose: str = typer.Option(..., "--purpose", help="Why the values are needed (audited)."),
    path: Path | None = FileOption,
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Values of tokens read from stdin or --file, for a declared purpose (audited)."""
    tokens = _lines(path)
    rows: list[dict[str, Any]] = []
    with cli_errors():
        for offset, chunk in enumerate(_chunks(tokens)):
            with unit_of_work() as session:
                outcomes = access.detokenize_batch(
                    session,
                    tenant=tenant,
                    token_type=token_type,
                    tokens=chunk,
                    purpose=purpose,
                    actor=_actor(),
                )
            for index, outcome in enumerate(outcomes):
                line = offset * MAX_BATCH_ITEMS + index + 1
                if isinstance(outcome, RampartError):
                    rows.append(_error_row(line, outcome))
                else:
                    rows.append({"line": line, "id": public_id(outcome.id), "value": outcome.value})
    _emit(rows, json_output, "value")
    if any("error" in row for row in rows):
        raise typer.Exit(1)


@app.command("reveal")
def reveal(
    token_type: str = TypeOption,
    path: Path | None = FileOption,
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Masked values (cards: at most first 6 and last 4 digits) of tokens from stdin or --file."""
    tokens = _lines(path)
    rows: list[dict[str, Any]] = []
    with cli_errors():
        for offset, chunk in enumerate(_chunks(tokens)):
            with unit_of_work() as session:
                outcomes = access.reveal_batch(
                    session, tenant=tenant, token_type=token_type, tokens=chunk, actor=_actor()
                )
            for index, outcome in enumerate(outcomes):
                line = offset * MAX_BATCH_ITEMS + index + 1
                if isinstance(outcome, RampartError):
                    rows.append(_error_row(line, outcome))
                else:
                    rows.append(
                        {"line": line, "id": public_id(outcome.id), "masked": outcome.masked}
                    )
    _emit(rows, json_output, "masked")
    if any("error" in row for row in rows):
        raise typer.Exit(1)


@app.command("stats")
def stats(
    tenant: str | None = typer.Option(None, "--tenant", help="One tenant (default: all)."),
    json_output: bool = JsonOption,
) -> None:
    """Tokens per type, expired tokens awaiting purge, vault keys per kind."""
    with cli_errors(), unit_of_work() as session:
        counts = lifecycle.vault_stats(session, utcnow(), tenant=tenant)
    if json_output:
        print_json(
            {
                "tokens_by_type": counts.tokens_by_type,
                "expired_awaiting_purge": counts.expired_awaiting_purge,
                "keys_by_kind": counts.keys_by_kind,
            }
        )
        return
    rows = [[kind, count] for kind, count in sorted(counts.tokens_by_type.items())]
    print_table("Vault tokens", ["type", "tokens"], rows)
    print_table(
        "Vault keys",
        ["kind", "keys"],
        [[kind, count] for kind, count in sorted(counts.keys_by_kind.items())],
    )
    sys.stdout.write(f"expired awaiting purge: {counts.expired_awaiting_purge}\n")


FieldsOption = typer.Option(
    ..., "--field", help="PATH=TYPE[:FORMAT], repeatable, e.g. '$.card.number=pan'."
)
MethodsOption = typer.Option(["POST"], "--method", help="POST, PUT or PATCH (repeatable).")


@route_app.command("add")
def route_add(
    name: str = typer.Argument(..., help="Route name: 2-63 of a-z, 0-9, dashes."),
    direction: str = typer.Option(..., "--direction", help="outbound or inbound."),
    destination: str = typer.Option(..., "--destination", help="Base URL (https)."),
    fields: list[str] = FieldsOption,
    methods: list[str] = MethodsOption,
    purpose: str | None = typer.Option(
        None, "--purpose", help="Outbound: detokenize purpose (audited), e.g. payment.authorize."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Declare a proxy route. An inbound route's signing secret is printed this once."""
    declaration = proxy_routes.RouteDeclaration(
        name=name,
        direction=direction,
        destination=destination,
        fields=[_field_option(option) for option in fields],
        methods=tuple(methods),
        purpose=purpose,
    )
    with cli_errors(), unit_of_work() as session:
        route, secret = proxy_routes.create_route(
            session, tenant=tenant, declaration=declaration, actor=_actor()
        )
    if json_output:
        print_json({"route": route.describe(), "secret": secret})
        return
    _print_routes([route])
    if secret:
        sys.stdout.write(f"signing secret (shown once): {secret}\n")


def _field_option(option: str) -> dict[str, Any]:
    path, sep, kind = option.rpartition("=")
    if not sep or not path or not kind:
        fail(f"--field {option!r}: expected PATH=TYPE[:FORMAT]")
    token_type, _, token_format = kind.partition(":")
    declared: dict[str, Any] = {"path": path, "type": token_type}
    if token_format:
        declared["format"] = token_format
    return declared


@route_app.command("list")
def route_list(tenant: str = TenantOption, json_output: bool = JsonOption) -> None:
    """Proxy routes of a tenant (never their secrets)."""
    with cli_errors(), unit_of_work(read_only=True) as session:
        routes = proxy_routes.list_routes(session, tenant=tenant)
    if json_output:
        print_json([route.describe() for route in routes])
        return
    _print_routes(routes)


@route_app.command("delete")
def route_delete(
    name: str = typer.Argument(..., help="Route name."), tenant: str = TenantOption
) -> None:
    """Remove a route (an inbound route's secret key is destroyed)."""
    with cli_errors(), unit_of_work() as session:
        proxy_routes.delete_route(session, tenant=tenant, name=name, actor=_actor())
    sys.stdout.write(f"deleted route {name}\n")


@route_app.command("rotate-secret")
def route_rotate_secret(
    name: str = typer.Argument(..., help="Inbound route name."), tenant: str = TenantOption
) -> None:
    """A new signing secret for an inbound route, printed once; the old one stops working."""
    with cli_errors(), unit_of_work() as session:
        secret = proxy_routes.rotate_inbound_secret(
            session, tenant=tenant, name=name, actor=_actor()
        )
    sys.stdout.write(f"signing secret (shown once): {secret}\n")


def _print_routes(routes: list[proxy_routes.ProxyRoute]) -> None:
    print_table(
        "Vault proxy routes",
        ["name", "direction", "destination", "methods", "fields", "purpose"],
        [
            [
                r.name,
                r.direction,
                r.destination,
                ",".join(r.methods),
                ", ".join(f"{f.path.text}={f.token_type}" for f in r.fields),
                r.purpose,
            ]
            for r in routes
        ],
    )
