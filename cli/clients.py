"""`rampart client`: register OAuth clients, list them, rotate a secret, delete one. A secret is
printed once, when it is created; Rampart keeps only its keyed hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cli.output import JsonOption, cli_errors, fail, print_json, print_table, stdout
from core.database import unit_of_work
from iam.oauth2 import service
from iam.oauth2.schemas import ClientSpec

app = typer.Typer(help="OAuth clients: create, list, rotate-secret, delete.", no_args_is_help=True)


def _spec(**fields: Any) -> ClientSpec:
    try:
        return ClientSpec(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "client"
        fail(f"invalid client ({where}): {first['msg']}")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique name of the client.")],
    client_type: Annotated[str, typer.Option("--type", help="confidential or public.")] = (
        "confidential"
    ),
    auth_method: Annotated[
        str | None,
        typer.Option(
            "--auth-method",
            help="client_secret_basic, client_secret_post, private_key_jwt or none.",
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option("--grant", help="authorization_code, refresh_token, client_credentials."),
    ] = None,
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Exact redirect URI (repeat).")
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--post-logout-redirect-uri", help="Exact post-logout URI (repeat)."),
    ] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Allowed scope.")] = None,
    audience: Annotated[
        list[str] | None, typer.Option("--audience", help="Resource it may call (repeat).")
    ] = None,
    first_party: Annotated[
        bool, typer.Option("--first-party", help="Skip the consent page.")
    ] = False,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Public JWKS for private_key_jwt.")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="Choose the client_id.")
    ] = None,
    json_output: bool = JsonOption,
) -> None:
    """Register a client; its secret (if any) is printed this once."""
    jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    spec = _spec(
        name=name,
        client_id=client_id,
        client_type=client_type,
        token_endpoint_auth_method=auth_method,
        grant_types=grant or None,
        redirect_uris=redirect_uri or None,
        post_logout_redirect_uris=post_logout_redirect_uri or None,
        scopes=scope or None,
        audiences=audience or None,
        first_party=first_party,
        jwks=jwks,
    )
    with cli_errors(), unit_of_work() as db:
        applied = service.create_client(db, spec)
        view = service.client_view(applied.client)
    if json_output:
        print_json({**view.model_dump(mode="json"), "client_secret": applied.client_secret})
        return
    stdout.print(f"created client {view.client_id} ({view.name})")
    if applied.client_secret:
        stdout.print(f"client_secret: {applied.client_secret}")
        stdout.print("Store it now: it is not shown again.")


@app.command("list")
def list_command(json_output: bool = JsonOption) -> None:
    """List clients (never their secrets)."""
    with cli_errors(), unit_of_work() as db:
        views = [service.client_view(c) for c in service.list_clients(db)]
    if json_output:
        print_json([v.model_dump(mode="json") for v in views])
        return
    print_table(
        "OAuth clients",
        ["client_id", "name", "type", "auth", "grants", "first party"],
        [
            (
                v.client_id,
                v.name,
                v.client_type,
                v.token_endpoint_auth_method,
                ",".join(v.grant_types),
                "yes" if v.first_party else "no",
            )
            for v in views
        ],
    )


@app.command("rotate-secret")
def rotate_secret(client_id: str, json_output: bool = JsonOption) -> None:
    """Replace the client's secret (the old one stops working now); printed once."""
    with cli_errors(), unit_of_work() as db:
        secret = service.rotate_client_secret(db, client_id)
    if json_output:
        print_json({"client_id": client_id, "client_secret": secret})
        return
    stdout.print(f"client_secret: {secret}")
    stdout.print("Store it now: it is not shown again.")


@app.command("delete")
def delete(
    client_id: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    json_output: bool = JsonOption,
) -> None:
    """Delete a client and revoke its refresh tokens."""
    if not yes and not typer.confirm(f"Delete client {client_id} and revoke its tokens?"):
        fail("aborted")
    with cli_errors(), unit_of_work() as db:
        service.delete_client(db, client_id)
    if json_output:
        print_json({"client_id": client_id, "deleted": True})
    else:
        stdout.print(f"deleted client {client_id}")
