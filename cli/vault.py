"""`rampart vault`: tokenize, detokenize, reveal and stats from the operator's shell.

Values and tokens are read from stdin or a file, one per line, never from the command line
(argv shows up in `ps`, shell history and audit logs of the host).

tokenize, detokenize and reveal act through the server's API as the person `rampart login`
logged in (the ledger names `user:<id>`; the server's policies decide). Direct database access
for them is break-glass only: `--break-glass --reason "..."`, audited `cli.break_glass` before
anything is read. Domain modules load inside the commands, so `rampart vault --help` is light.
"""

from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table

app = typer.Typer(
    help="Tokenization vault: tokenize, detokenize, reveal, stats, proxy routes.",
    no_args_is_help=True,
)
route_app = typer.Typer(
    help="Proxy routes: allow-listed destinations and the fields they (de)tokenize.",
    no_args_is_help=True,
)
app.add_typer(route_app, name="route")

BATCH_ITEMS = 1000  # vault.records.MAX_BATCH_ITEMS, the API's batch bound
MAX_REASON_CHARS = 500
TypeOption = typer.Option(..., "--type", "-t", help="Token type: pan, cvc, email, phone, ...")
TenantOption = typer.Option("rampart", "--tenant", help="Tenant whose tokens these are.")
BreakGlassTenantOption = typer.Option(
    None, "--tenant", help="With --break-glass: tenant (default rampart); else your login's."
)
FileOption = typer.Option(
    None, "--file", "-f", help="Read one item per line from this file (default: stdin)."
)
BreakGlassOption = typer.Option(
    False,
    "--break-glass",
    help="Emergency only: act on the database directly, not as your login (audited).",
)
ReasonOption = typer.Option(
    None, "--reason", help="Why break-glass is needed (audited; required outside a terminal)."
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
    for start in range(0, len(items), BATCH_ITEMS):
        yield items[start : start + BATCH_ITEMS]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _emit(rows: list[dict[str, Any]], json_output: bool, column: str) -> None:
    if json_output:
        print_json(rows)
    else:
        for row in rows:
            if "error" in row:
                sys.stderr.write(f"error: line {row['line']}: {row['error']}\n")
            else:
                sys.stdout.write(f"{row[column]}\n")
    if any("error" in row for row in rows):
        raise typer.Exit(1)


def _error_row(line: int, error: Any) -> dict[str, Any]:
    """A failed item: ``error`` is a RampartError (direct) or a problem dict (API)."""
    if isinstance(error, dict):
        return {"line": line, "error": error.get("detail"), "type": error.get("type")}
    return {"line": line, "error": error.detail, "type": error.type}


def _break_glass(command: str, token_type: str, reason: str | None) -> str:
    """Record ``cli.break_glass`` (committed before anything is read) and warn; the actor."""
    from core.audit.service import record_event
    from core.database import unit_of_work

    if reason is None or not reason.strip():
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            fail('--break-glass needs --reason "..." outside an interactive terminal')
        reason = typer.prompt("Reason for break-glass (audited)", err=True)
    reason = " ".join(reason.split())
    if not reason:
        fail("--break-glass needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        fail(f"--reason is longer than {MAX_REASON_CHARS} characters")
    os_user = getpass.getuser()
    with unit_of_work() as session:
        entry = record_event(
            session,
            event_type="cli.break_glass",
            actor=f"cli:{os_user}",
            resource=f"vault:{token_type}",
            details={
                "os_user": os_user,
                "host": socket.gethostname(),
                "command": f"vault {command}",
                "reason": reason,
            },
        )
        seq = entry.seq
    sys.stderr.write(
        f"warning: break-glass: vault {command} reads the database directly as cli:{os_user}, "
        f"outside the server's policies (audited as cli.break_glass, entry {seq})\n"
    )
    return f"cli:{os_user}"


def _tenant_for_api(tenant: str | None) -> None:
    if tenant is not None:
        fail("--tenant goes with --break-glass; through the API the tenant is your login's")


def _through_api(
    token_type: str, action: str, body_of: Callable[[list[str]], dict[str, Any]], items: list[str]
) -> list[tuple[int, dict[str, Any] | None, dict[str, Any] | None]]:
    """(line, result, problem) of every item, posted in batches to /v1/vault/<type>/<action>."""
    from cli.api import connect

    server = connect()
    path = f"/v1/vault/{quote(token_type, safe='')}/{action}/batch"
    answers: list[tuple[int, dict[str, Any] | None, dict[str, Any] | None]] = []
    for offset, chunk in enumerate(_chunks(items)):
        body = server.post_json(path, body_of(chunk))
        for item in body["items"]:
            line = offset * BATCH_ITEMS + int(item["index"]) + 1
            answers.append((line, item.get("result"), item.get("error")))
    return answers


def _direct(
    run: Callable[[Any, list[str]], list[Any]], items: list[str]
) -> list[tuple[int, Any, Any]]:
    """(line, result, error) of every item, run on the database in batches (break-glass)."""
    from core.database import unit_of_work
    from core.errors import RampartError

    answers: list[tuple[int, Any, Any]] = []
    for offset, chunk in enumerate(_chunks(items)):
        with unit_of_work() as session:
            outcomes = run(session, chunk)
        for index, outcome in enumerate(outcomes):
            line = offset * BATCH_ITEMS + index + 1
            failed = isinstance(outcome, RampartError)
            answers.append((line, None if failed else outcome, outcome if failed else None))
    return answers


@app.command("tokenize")
def tokenize(
    token_type: str = TypeOption,
    path: Path | None = FileOption,
    tenant: str | None = BreakGlassTenantOption,
    token_format: str | None = typer.Option(None, "--format", help="Token format."),
    subject: str | None = typer.Option(None, "--subject", help="Data subject (customer id)."),
    ttl: int | None = typer.Option(None, "--ttl", help="Expire tokens after this many seconds."),
    break_glass: bool = BreakGlassOption,
    reason: str | None = ReasonOption,
    json_output: bool = JsonOption,
) -> None:
    """Tokenize values read from stdin or --file; prints one token per line."""
    rows: list[dict[str, Any]] = []
    with cli_errors():
        if not break_glass:
            _tenant_for_api(tenant)
            values = _lines(path)
            fields = {"subject": subject, "ttl_seconds": ttl, "format": token_format}
            wanted = {key: value for key, value in fields.items() if value is not None}
            answers = _through_api(
                token_type,
                "tokens",
                lambda chunk: {"items": [{"value": v, **wanted} for v in chunk]},
                values,
            )
            for line, result, problem in answers:
                row = _error_row(line, problem) if result is None else _token_row(line, result)
                rows.append(row)
        else:
            from vault import service
            from vault.ids import public_id
            from vault.records import TokenizeRequest

            actor = _break_glass("tokenize", token_type, reason)
            values = _lines(path)

            def run(session: Any, chunk: list[str]) -> list[Any]:
                return service.tokenize_batch(
                    session,
                    tenant=tenant or "rampart",
                    token_type=token_type,
                    items=[TokenizeRequest(v, subject, ttl, token_format) for v in chunk],
                    actor=actor,
                )

            for line, record, error in _direct(run, values):
                if error is not None:
                    rows.append(_error_row(line, error))
                    continue
                expires = record.expires_at.isoformat() if record.expires_at else None
                result = {"id": public_id(record.id), "token": record.token, "expires_at": expires}
                rows.append(_token_row(line, result))
    _emit(rows, json_output, "token")


def _token_row(line: int, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "line": line,
        "id": result["id"],
        "token": result["token"],
        "expires_at": result.get("expires_at"),
    }


@app.command("detokenize")
def detokenize(
    token_type: str = TypeOption,
    purpose: str = typer.Option(..., "--purpose", help="Why the values are needed (audited)."),
    path: Path | None = FileOption,
    tenant: str | None = BreakGlassTenantOption,
    break_glass: bool = BreakGlassOption,
    reason: str | None = ReasonOption,
    json_output: bool = JsonOption,
) -> None:
    """Values of tokens read from stdin or --file, for a declared purpose (audited)."""
    _read_tokens("detokenize", token_type, path, tenant, break_glass, reason, json_output, purpose)


@app.command("reveal")
def reveal(
    token_type: str = TypeOption,
    path: Path | None = FileOption,
    tenant: str | None = BreakGlassTenantOption,
    break_glass: bool = BreakGlassOption,
    reason: str | None = ReasonOption,
    json_output: bool = JsonOption,
) -> None:
    """Masked values (cards: at most first 6 and last 4 digits) of tokens from stdin or --file."""
    _read_tokens("reveal", token_type, path, tenant, break_glass, reason, json_output, None)


def _read_tokens(
    command: str,
    token_type: str,
    path: Path | None,
    tenant: str | None,
    break_glass: bool,
    reason: str | None,
    json_output: bool,
    purpose: str | None,
) -> None:
    """detokenize (with a purpose) or reveal, through the API or break-glass."""
    column = "value" if command == "detokenize" else "masked"
    rows: list[dict[str, Any]] = []
    with cli_errors():
        if not break_glass:
            _tenant_for_api(tenant)
            tokens = _lines(path)
            extra = {"purpose": purpose} if purpose is not None else {}
            answers = _through_api(
                token_type, command, lambda chunk: {"tokens": chunk, **extra}, tokens
            )
            for line, result, problem in answers:
                if result is None:
                    rows.append(_error_row(line, problem))
                else:
                    rows.append({"line": line, "id": result["id"], column: result[column]})
        else:
            from vault import access
            from vault.ids import public_id

            actor = _break_glass(command, token_type, reason)
            tokens = _lines(path)

            def run(session: Any, chunk: list[str]) -> list[Any]:
                common: dict[str, Any] = {
                    "tenant": tenant or "rampart",
                    "token_type": token_type,
                    "tokens": chunk,
                    "actor": actor,
                }
                if purpose is not None:
                    return access.detokenize_batch(session, purpose=purpose, **common)
                return access.reveal_batch(session, **common)

            for line, outcome, error in _direct(run, tokens):
                if error is not None:
                    rows.append(_error_row(line, error))
                else:
                    value = outcome.value if purpose is not None else outcome.masked
                    rows.append({"line": line, "id": public_id(outcome.id), column: value})
    _emit(rows, json_output, column)


@app.command("stats")
def stats(
    tenant: str | None = typer.Option(None, "--tenant", help="One tenant (default: all)."),
    json_output: bool = JsonOption,
) -> None:
    """Tokens per type, expired tokens awaiting purge, vault keys per kind."""
    from core.clock import utcnow
    from core.database import unit_of_work
    from vault import lifecycle

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
    from core.database import unit_of_work
    from vault.proxy import routes as proxy_routes

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
    from core.database import unit_of_work
    from vault.proxy import routes as proxy_routes

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
    from core.database import unit_of_work
    from vault.proxy import routes as proxy_routes

    with cli_errors(), unit_of_work() as session:
        proxy_routes.delete_route(session, tenant=tenant, name=name, actor=_actor())
    sys.stdout.write(f"deleted route {name}\n")


@route_app.command("rotate-secret")
def route_rotate_secret(
    name: str = typer.Argument(..., help="Inbound route name."), tenant: str = TenantOption
) -> None:
    """A new signing secret for an inbound route, printed once; the old one stops working."""
    from core.database import unit_of_work
    from vault.proxy import routes as proxy_routes

    with cli_errors(), unit_of_work() as session:
        secret = proxy_routes.rotate_inbound_secret(
            session, tenant=tenant, name=name, actor=_actor()
        )
    sys.stdout.write(f"signing secret (shown once): {secret}\n")


def _print_routes(routes: list[Any]) -> None:  # vault.proxy.routes.ProxyRoute
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
