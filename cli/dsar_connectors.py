"""`rampart dsar connector`: the webhook and manual-task connectors of GDPR requests, through
the server's /v1/dsar API (the stored login of `rampart login`). A webhook's secret is read from
an environment variable (never from the command line) or generated, and printed only when
generated, on creation or rotation."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table

app = typer.Typer(
    help="GDPR connectors: shop services' webhooks and manual tasks.", no_args_is_help=True
)

TypesOption = typer.Option(
    ..., "--type", help="A right it handles (repeat): access, rectification, erasure, ..."
)


def _secret_from(variable: str | None) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        fail(f"--secret-env {variable}: that environment variable is not set")
    return value


def _server() -> Any:
    from cli.api import connect

    return connect()


def _show(connector: dict[str, Any]) -> None:
    for key in ("name", "kind", "types", "enabled", "url", "timeout_seconds", "has_secret",
                "assignee_email", "instructions", "created_by", "updated_at"):  # fmt: skip
        value = connector.get(key)
        if value is not None:
            typer.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@app.command("list")
def list_command(json_output: bool = JsonOption) -> None:
    """The configured connectors (the built-in ones are always asked and not listed)."""
    with cli_errors():
        connectors = _server().get_json("/v1/dsar/connectors")["connectors"]
    if json_output:
        print_json(connectors)
        return
    print_table(
        "GDPR connectors",
        ("name", "kind", "types", "enabled", "url / assignee"),
        [
            (
                c["name"],
                c["kind"],
                ",".join(c["types"]),
                c["enabled"],
                c["url"] or c["assignee_email"],
            )
            for c in connectors
        ],
    )


@app.command("show")
def show_command(name: str, json_output: bool = JsonOption) -> None:
    with cli_errors():
        connector = _server().get_json(f"/v1/dsar/connectors/{name}")
    if json_output:
        print_json(connector)
    else:
        _show(connector)


@app.command("add-webhook")
def add_webhook(
    name: str,
    url: str = typer.Option(..., "--url", help="Where Rampart POSTs rampart.dsar/1 requests."),
    types: Annotated[list[str], TypesOption] = ...,  # type: ignore[assignment]
    secret_env: str | None = typer.Option(
        None, "--secret-env", help="Environment variable holding the secret (else generated)."
    ),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds per call."),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
    json_output: bool = JsonOption,
) -> None:
    """A shop service's webhook; a generated secret is printed this once."""
    with cli_errors():
        body: dict[str, Any] = {
            "name": name,
            "kind": "webhook",
            "url": url,
            "types": types,
            "timeout_seconds": timeout,
            "enabled": not disabled,
        }
        given = _secret_from(secret_env)
        if given is not None:
            body["secret"] = given
        created = _server().post_json("/v1/dsar/connectors", body)
    shown = {"connector": created["connector"], "secret": None if given else created["secret"]}
    if json_output:
        print_json(shown)
        return
    _show(created["connector"])
    if given is None:
        typer.echo(f"secret (shown once): {created['secret']}")


@app.command("add-manual")
def add_manual(
    name: str,
    instructions: str = typer.Option(..., "--instructions", help="What the assignee does."),
    assignee: str = typer.Option(..., "--assignee", help="E-mail the tasks go to."),
    types: Annotated[list[str], TypesOption] = ...,  # type: ignore[assignment]
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
    json_output: bool = JsonOption,
) -> None:
    """A system without an API: each request opens a task mailed to the assignee."""
    with cli_errors():
        created = _server().post_json(
            "/v1/dsar/connectors",
            {
                "name": name,
                "kind": "manual",
                "types": types,
                "instructions": instructions,
                "assignee_email": assignee,
                "enabled": not disabled,
            },
        )
    if json_output:
        print_json(created["connector"])
    else:
        _show(created["connector"])


@app.command("update")
def update_command(
    name: str,
    url: str | None = typer.Option(None, "--url"),
    types: Annotated[list[str] | None, typer.Option("--type")] = None,
    timeout: float | None = typer.Option(None, "--timeout"),
    instructions: str | None = typer.Option(None, "--instructions"),
    assignee: str | None = typer.Option(None, "--assignee"),
    enable: bool = typer.Option(False, "--enable", help="Ask it again."),
    json_output: bool = JsonOption,
) -> None:
    """Change what is given (a URL for webhooks, instructions/assignee for manual tasks)."""
    with cli_errors():
        body = {
            key: value
            for key, value in (
                ("url", url),
                ("types", types),
                ("timeout_seconds", timeout),
                ("instructions", instructions),
                ("assignee_email", assignee),
                ("enabled", True if enable else None),
            )
            if value is not None
        }
        if not body:
            fail("nothing to change: give --url, --type, --timeout, --instructions, ...")
        updated = _server().request("PATCH", f"/v1/dsar/connectors/{name}", json=body).json()
    if json_output:
        print_json(updated)
    else:
        _show(updated)


@app.command("disable")
def disable_command(name: str, json_output: bool = JsonOption) -> None:
    """Stop asking it (requests waiting for its answer keep waiting)."""
    with cli_errors():
        disabled = _server().post_json(f"/v1/dsar/connectors/{name}/disable", None)
    if json_output:
        print_json(disabled)
    else:
        typer.echo(f"disabled {name}")


@app.command("remove")
def remove_command(name: str, json_output: bool = JsonOption) -> None:
    """Delete it and crypto-shred its secret."""
    with cli_errors():
        _server().request("DELETE", f"/v1/dsar/connectors/{name}")
    if json_output:
        print_json({"removed": name})
    else:
        typer.echo(f"removed {name}")


@app.command("rotate-secret")
def rotate_secret(
    name: str,
    secret_env: str | None = typer.Option(
        None, "--secret-env", help="Environment variable holding the new secret (else generated)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """A new webhook secret; a generated one is printed this once. The old one stops working."""
    with cli_errors():
        given = _secret_from(secret_env)
        answer = _server().post_json(
            f"/v1/dsar/connectors/{name}/rotate-secret", {"secret": given} if given else None
        )
    secret = None if given else answer["secret"]
    if json_output:
        print_json({"name": name, "secret": secret})
    elif secret:
        typer.echo(f"secret (shown once): {secret}")
    else:
        typer.echo(f"rotated the secret of {name}")


@app.command("test")
def test_command(name: str, json_output: bool = JsonOption) -> None:
    """Send a signed ping; exit 1 unless a valid answer came back."""
    with cli_errors():
        answer = _server().post_json(f"/v1/dsar/connectors/{name}/test", None)
    if json_output:
        print_json(answer)
    else:
        typer.echo(f"{name}: {'ok' if answer['ok'] else 'FAILED'} ({answer['detail']})")
    if not answer["ok"]:
        raise typer.Exit(1)


@app.command("tasks")
def tasks_command(
    status: str | None = typer.Option("open", "--status", help="open, done, not_applicable"),
    json_output: bool = JsonOption,
) -> None:
    """The manual tasks (default: the open ones)."""
    with cli_errors():
        query = f"?status={status}" if status else ""
        tasks = _server().get_json(f"/v1/dsar/tasks{query}")["tasks"]
    if json_output:
        print_json(tasks)
        return
    print_table(
        "GDPR manual tasks",
        ("request", "connector", "status", "opened", "closed by"),
        [
            (t["request_id"], t["connector"], t["status"], t["opened_at"], t["closed_by"])
            for t in tasks
        ],
    )


@app.command("task-done")
def task_done(
    request_id: str,
    connector: str,
    status: str = typer.Option("done", "--status", help="done or not_applicable"),
    rows: int = typer.Option(0, "--rows", help="Rows (records, folders) affected."),
    method: str = typer.Option("", "--method", help="deleted, exported, rectified, ..."),
    note: str = typer.Option("", "--note", help="What was done (no personal data)."),
    json_output: bool = JsonOption,
) -> None:
    """Record what a manual task did; the request's next run reads it."""
    with cli_errors():
        task = _server().post_json(
            f"/v1/dsar/requests/{request_id}/tasks/{connector}",
            {"status": status, "rows_affected": rows, "method": method, "note": note},
        )
    if json_output:
        print_json(task)
    else:
        typer.echo(f"recorded {task['status']} for {connector} on request {request_id}")
