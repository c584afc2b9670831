"""`rampart client`: register OAuth clients, list them, update one (enable or disable it), rotate
a secret, delete one. A secret is printed once, when it is created; Rampart keeps only its keyed
hash. Deleting or disabling a client revokes every token it holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cli.flags import flag, toggle
from cli.output import JsonOption, cli_errors, fail, print_json, print_table, stdout
from iam.oauth2.schemas import ClientChanges, ClientSpec

# The database and the OAuth service (authlib, cryptography) are imported inside the commands:
# `--help` imports neither (tests/cli/test_startup.py).

app = typer.Typer(
    help="OAuth clients: create, list, update, rotate-secret, delete.", no_args_is_help=True
)


def _invalid(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "client"
    return f"invalid client ({where}): {first['msg']}"


def _spec(**fields: Any) -> ClientSpec:
    try:
        return ClientSpec(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        fail(_invalid(exc))


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
    first_party: Annotated[bool, flag("--first-party", "Skip the consent page.")] = False,
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
    from core.database import unit_of_work
    from iam.oauth2 import service

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
    from core.database import unit_of_work
    from iam.oauth2 import service

    with cli_errors(), unit_of_work() as db:
        views = [service.client_view(c) for c in service.list_clients(db)]
    if json_output:
        print_json([v.model_dump(mode="json") for v in views])
        return
    print_table(
        "OAuth clients",
        ["client_id", "name", "type", "auth", "grants", "first party", "enabled"],
        [
            (
                v.client_id,
                v.name,
                v.client_type,
                v.token_endpoint_auth_method,
                ",".join(v.grant_types),
                "yes" if v.first_party else "no",
                "yes" if v.enabled else "no",
            )
            for v in views
        ],
    )


@app.command("rotate-secret")
def rotate_secret(client_id: str, json_output: bool = JsonOption) -> None:
    """Replace the client's secret (the old one stops working now); printed once."""
    from core.database import unit_of_work
    from iam.oauth2 import service

    with cli_errors(), unit_of_work() as db:
        secret = service.rotate_client_secret(db, client_id)
    if json_output:
        print_json({"client_id": client_id, "client_secret": secret})
        return
    stdout.print(f"client_secret: {secret}")
    stdout.print("Store it now: it is not shown again.")


@app.command("update")
def update(
    client_id: Annotated[str, typer.Argument(help="The client's client_id.")],
    name: Annotated[str | None, typer.Option("--name", help="New unique name.")] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option("--grant", help="Grant types, replacing the current ones (repeat)."),
    ] = None,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--redirect-uri", help="Redirect URIs, replacing the current ones (repeat)."),
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--post-logout-redirect-uri", help="Post-logout URIs, replacing (repeat)."),
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Scopes, replacing the current ones.")
    ] = None,
    audience: Annotated[
        list[str] | None, typer.Option("--audience", help="Audiences, replacing (repeat).")
    ] = None,
    first_party: Annotated[
        bool | None, toggle("--first-party/--third-party", "Skip the consent page, or not.")
    ] = None,
    enabled: Annotated[
        bool | None,
        toggle("--enable/--disable", "Enable, or disable (revokes every token it holds)."),
    ] = None,
    json_output: bool = JsonOption,
) -> None:
    """Change what is given, leave the rest. Taking a grant, scope or audience away, or
    disabling the client, revokes its tokens."""
    given = {
        "name": name,
        "grant_types": grant,
        "redirect_uris": redirect_uri,
        "post_logout_redirect_uris": post_logout_redirect_uri,
        "scopes": scope,
        "audiences": audience,
        "first_party": first_party,
        "enabled": enabled,
    }
    try:
        changes = ClientChanges(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        fail(_invalid(exc))
    if not changes.model_fields_set:
        fail("nothing to change: give at least one option (see --help)")
    from core.database import unit_of_work
    from iam.oauth2 import service

    with cli_errors(), unit_of_work() as db:
        try:
            changed = service.update_client(db, client_id, changes)
        except ValidationError as exc:
            fail(_invalid(exc))
        view = service.client_view(service.require_client(db, client_id))
    if json_output:
        print_json({**view.model_dump(mode="json"), "changed": changed})
        return
    what = ", ".join(changed) if changed else "nothing to change"
    stdout.print(f"updated client {view.client_id}: {what}")


@app.command("delete")
def delete(
    client_id: str,
    yes: Annotated[bool, flag("--yes", "Do not ask for confirmation.")] = False,
    json_output: bool = JsonOption,
) -> None:
    """Delete a client and revoke every token it holds."""
    if not yes:
        if not sys.stdin.isatty():
            fail("deleting a client needs --yes when standard input is not a terminal")
        if not typer.confirm(f"Delete client {client_id} and revoke its tokens?"):
            fail("aborted")
    from core.database import unit_of_work
    from iam.oauth2 import service

    with cli_errors(), unit_of_work() as db:
        service.delete_client(db, client_id)
    if json_output:
        print_json({"client_id": client_id, "deleted": True})
    else:
        stdout.print(f"deleted client {client_id}")
