"""`rampart dsar`: the officer's tools for data-subject requests, through the server's /v1/dsar
API as the person `rampart login` logged in (the policies demand a second factor; the ledger
names them). Requests that arrive by letter or phone are filed here (channel ``officer``);
`process` fulfils now, the same code path as the ``gdpr.process_due`` job; `certificate` writes
the three files `openssl` verifies."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import typer

from cli.dsar_connectors import app as connectors_app
from cli.output import JsonOption, cli_errors, fail, print_json, print_table

app = typer.Typer(
    help="GDPR data-subject requests: file, list, show, decide, process, export, certificate.",
    no_args_is_help=True,
)
app.add_typer(connectors_app, name="connector")

TYPES = ("access", "rectification", "erasure", "restriction", "portability", "objection")
IdArgument = typer.Argument(..., help="The request id.")
ReasonOption = typer.Option(..., "--reason", help="Why (kept in the request's history).")
ZipOption = typer.Option(..., "--output", "-o", help="The zip to write.")
DirOption = typer.Option(..., "--output", "-o", help="The directory to write into.")
ChangeOption = typer.Option([], "--change", help="Rectification: field=value (repeatable).")
PurposeOption = typer.Option(
    [], "--purpose", help="Restriction/objection: a purpose concerned (repeatable)."
)


def _server() -> Any:
    from cli.api import connect

    return connect()


def _show(answer: dict[str, Any], json_output: bool) -> None:
    """A request (with history and outcomes) as JSON or a few lines and tables."""
    if json_output:
        print_json(answer)
        return
    request = answer["request"]
    typer.echo(f"{request['id']}  {request['type']}  {request['state']}")
    typer.echo(f"subject {request['subject']}  channel {request['channel']}")
    due = request["due_at"][:10]
    extended = " (extended)" if request["extended"] else ""
    late = "  OVERDUE" if request["overdue"] else ""
    typer.echo(f"due {due}{extended}, {request['days_left']} days left{late}")
    if request.get("rejection_reason"):
        typer.echo(f"rejected: {request['rejection_reason']}")
    if answer.get("outcomes"):
        print_table(
            "Connectors",
            ["connector", "status", "rows", "method", "attempts", "holds", "detail"],
            [
                [
                    o["connector"],
                    o["status"],
                    o["rows"],
                    o["method"],
                    o["attempts"],
                    len(o["holds"]),
                    o["detail"],
                ]
                for o in answer["outcomes"]
            ],
            wrap=("detail",),
        )
    if answer.get("history"):
        print_table(
            "History",
            ["at", "from", "to", "actor", "reason"],
            [
                [e["at"][:19], e["from_state"], e["to_state"], e["actor"], e["reason"]]
                for e in answer["history"]
            ],
            wrap=("reason",),
        )


def _post(path: str, body: dict[str, Any] | None, json_output: bool) -> None:
    with cli_errors():
        answer = _server().post_json(path, body)
    _show(answer, json_output)


def _parse_changes(changes: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for change in changes:
        name, sep, value = change.partition("=")
        if not sep or not name.strip():
            fail(f"--change takes field=value, not {change!r}")
        parsed[name.strip()] = value
    return parsed


@app.command("file")
def file_command(
    type_: str = typer.Option(..., "--type", help=" | ".join(TYPES)),
    subject: str = typer.Option(..., "--subject", help="The customer id (the vault's subject)."),
    email: str | None = typer.Option(None, "--email", help="Where the subject is notified."),
    change: list[str] = ChangeOption,
    purpose: list[str] = PurposeOption,
    note: str | None = typer.Option(None, "--note", help="How the request arrived, etc."),
    verified: bool = typer.Option(
        False, "--verified", help="You have verified the subject's identity already."
    ),
    json_output: bool = JsonOption,
) -> None:
    """File a request received by letter, phone or mail (channel officer)."""
    if type_ not in TYPES:
        fail(f"--type is one of {', '.join(TYPES)}")
    body: dict[str, Any] = {"type": type_, "subject": subject, "identity_verified": verified}
    if email:
        body["email"] = email
    if change:
        body["changes"] = _parse_changes(change)
    if purpose:
        body["purposes"] = purpose
    if note:
        body["note"] = note
    _post("/v1/dsar/requests", body, json_output)


@app.command("list")
def list_command(
    state: str | None = typer.Option(None, "--state", help="Only requests in this state."),
    type_: str | None = typer.Option(None, "--type", help="Only requests of this type."),
    subject: str | None = typer.Option(None, "--subject", help="Only this customer's."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open ones past their deadline."),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    offset: int = typer.Option(0, "--offset", min=0),
    json_output: bool = JsonOption,
) -> None:
    """Requests, newest first."""
    query: dict[str, str] = {"limit": str(limit), "offset": str(offset)}
    for key, value in (("state", state), ("type", type_), ("subject", subject)):
        if value is not None:
            query[key] = value
    if overdue:
        query["overdue"] = "true"
    with cli_errors():
        answer = _server().get_json(f"/v1/dsar/requests?{urlencode(query)}")
    if json_output:
        print_json(answer)
        return
    print_table(
        "Data-subject requests",
        ["id", "type", "state", "subject", "due", "days left", "overdue"],
        [
            [
                r["id"],
                r["type"],
                r["state"],
                r["subject"],
                r["due_at"][:10],
                r["days_left"],
                "yes" if r["overdue"] else "",
            ]
            for r in answer["requests"]
        ],
    )


@app.command("show")
def show_command(request_id: str = IdArgument, json_output: bool = JsonOption) -> None:
    """A request, its history and each connector's outcome."""
    with cli_errors():
        answer = _server().get_json(f"/v1/dsar/requests/{_id(request_id)}")
    _show(answer, json_output)


@app.command("verify-identity")
def verify_identity_command(request_id: str = IdArgument, json_output: bool = JsonOption) -> None:
    """Record that you verified the subject's identity."""
    _post(f"/v1/dsar/requests/{_id(request_id)}/verify-identity", None, json_output)


@app.command("request-info")
def request_info_command(
    request_id: str = IdArgument, reason: str = ReasonOption, json_output: bool = JsonOption
) -> None:
    """Ask the subject for what confirms their identity (Article 12(6)); the clock pauses."""
    _post(
        f"/v1/dsar/requests/{_id(request_id)}/request-information", {"reason": reason}, json_output
    )


@app.command("approve")
def approve_command(request_id: str = IdArgument, json_output: bool = JsonOption) -> None:
    """Approve an erasure or rectification awaiting approval."""
    _post(f"/v1/dsar/requests/{_id(request_id)}/approve", None, json_output)


@app.command("reject")
def reject_command(
    request_id: str = IdArgument, reason: str = ReasonOption, json_output: bool = JsonOption
) -> None:
    """Decline, with a reason; the subject is told of the right to complain (Art. 12(4))."""
    _post(f"/v1/dsar/requests/{_id(request_id)}/reject", {"reason": reason}, json_output)


@app.command("extend")
def extend_command(
    request_id: str = IdArgument,
    months: int = typer.Option(..., "--months", help="1 or 2 further months."),
    reason: str = ReasonOption,
    json_output: bool = JsonOption,
) -> None:
    """Extend by one or two months, during the first month; the subject is told (Article 12(3))."""
    body = {"months": months, "reason": reason}
    _post(f"/v1/dsar/requests/{_id(request_id)}/extend", body, json_output)


@app.command("process")
def process_command(request_id: str = IdArgument, json_output: bool = JsonOption) -> None:
    """Fulfil now instead of waiting for the job (the same code path)."""
    _post(f"/v1/dsar/requests/{_id(request_id)}/process", None, json_output)


@app.command("export")
def export_command(
    request_id: str = IdArgument,
    output: Path = ZipOption,
    json_output: bool = JsonOption,
) -> None:
    """Download the access/portability package (audited)."""
    if output.is_dir():
        fail(f"{output} is a directory: give the zip's file name")
    with cli_errors():
        response = _server().request("GET", f"/v1/dsar/requests/{_id(request_id)}/package")
    sha = response.headers.get("x-rampart-package-sha256")
    _write(output, response.content)
    if json_output:
        print_json({"output": str(output), "sha256": sha, "bytes": len(response.content)})
        return
    typer.echo(f"wrote {output}")
    typer.echo(f"sha256 {sha}")


@app.command("certificate")
def certificate_command(
    request_id: str = IdArgument,
    output: Path = DirOption,
    json_output: bool = JsonOption,
) -> None:
    """Write certificate.json, certificate.sig and public-key.pem; print the openssl command."""
    if output.exists() and not output.is_dir():
        fail(f"{output} is not a directory")
    with cli_errors():
        answer = _server().get_json(f"/v1/dsar/requests/{_id(request_id)}/certificate")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, key in (
        ("certificate.json", "certificate_json"),
        ("certificate.sig", "certificate_sig"),
        ("public-key.pem", "public_key_pem"),
    ):
        _write(output / name, base64.b64decode(answer[key]))
        written.append(str(output / name))
    command = f"cd {output} && {answer['verify_command']}"
    if json_output:
        print_json({"files": written, "verify_command": command})
        return
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"verify with: {command}")


def _id(value: str) -> str:
    from uuid import UUID

    try:
        return str(UUID(value))
    except ValueError:
        fail(f"{value!r} is not a request id")


def _write(path: Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    partial.replace(path)
