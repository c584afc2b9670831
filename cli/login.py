"""`rampart login`, `logout` and `whoami`: the operator logs in with the OAuth device
authorization grant (RFC 8628) — the CLI shows a code, the person approves it on the server's
``/device`` page (after their login and second factor) — and later commands act as them.

Only typer at import: `rampart login --help` stays fast; the HTTP client loads when it runs.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import typer

CLIENT_ID = "rampart-cli"  # iam.oauth2.service.CLI_CLIENT_ID, created by `rampart init`
SCOPE = "openid profile email"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: add 5 s to the interval on each slow_down

ServerOption = typer.Option(
    None, "--server", help="Base URL of the server (default: RAMPART_SERVER_URL, else the issuer)."
)
JsonFlag = typer.Option(False, "--json", help="Print machine-readable JSON.")

# RFC 8628 §3.5 errors that end the wait, and what the operator should read.
_FINAL_ERRORS = {
    "expired_token": "the code expired before it was approved: run `rampart login` again",
    "access_denied": "the login was denied on the device page",
}


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def login(server: str | None = ServerOption) -> None:
    """Log in as yourself: approve the code shown here on the server's /device page."""
    from cli.output import cli_errors

    with cli_errors():
        _login(server)


def _login(server: str | None) -> None:
    from cli.api import discover, fetch_json, refusal_reason, server_base
    from cli.credentials import StoredLogin, save_login
    from core.errors import BadRequest, Unauthenticated
    from core.settings import get_settings

    settings = get_settings()
    base = server_base(server or settings.server_url or settings.issuer)
    if not _safe_transport(base):
        raise BadRequest(f"{base}: tokens go only over https (plain http only to a loopback host)")
    meta = discover(base)
    started = fetch_json(
        "POST",
        meta["device_authorization_endpoint"],
        server=base,
        data={"client_id": CLIENT_ID, "scope": SCOPE},
    )
    if started.status_code != 200:
        raise BadRequest(f"{base} refused to start a login: {refusal_reason(started)}")
    grant = started.json()
    interval = int(grant.get("interval", 5))
    deadline = time.monotonic() + int(grant.get("expires_in", 600))
    _say(f"Open {grant['verification_uri']} and enter the code {grant['user_code']}")
    if grant.get("verification_uri_complete"):
        _say(f"  (or open {grant['verification_uri_complete']})")
    _say("Waiting for approval...")
    while True:
        time.sleep(interval)
        if time.monotonic() > deadline:
            raise Unauthenticated(_FINAL_ERRORS["expired_token"])
        answer = fetch_json(
            "POST",
            meta["token_endpoint"],
            server=base,
            data={
                "grant_type": DEVICE_GRANT,
                "device_code": grant["device_code"],
                "client_id": CLIENT_ID,
            },
        )
        if answer.status_code == 200:
            tokens = answer.json()
            break
        error = _oauth_error(answer)
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
            continue
        if error in _FINAL_ERRORS:
            raise Unauthenticated(_FINAL_ERRORS[error])
        raise Unauthenticated(f"{base} refused the login: {refusal_reason(answer)}")
    stored = StoredLogin(
        server=base,
        client_id=CLIENT_ID,
        token_endpoint=meta["token_endpoint"],
        revocation_endpoint=meta["revocation_endpoint"],
        userinfo_endpoint=meta["userinfo_endpoint"],
        access_token=str(tokens["access_token"]),
        expires_at=time.time() + float(tokens.get("expires_in", 0)),
        refresh_token=tokens.get("refresh_token"),
        scope=str(tokens.get("scope", SCOPE)),
    )
    path = save_login(stored)
    who = _identity(stored)
    _say(f"Logged in to {base} as {who['email'] or who['subject']} ({who['subject']})")
    _say(f"Login stored in {path} (mode 0600)")


def _safe_transport(base: str) -> bool:
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _oauth_error(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body["error"]) if isinstance(body, dict) and "error" in body else None


def _claims(access_token: str) -> dict[str, Any]:
    """The access token's claims, for display only (the server verifies the token)."""
    try:
        payload = access_token.split(".")[1]
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
        return decoded
    except (IndexError, ValueError):
        return {}


def _identity(stored: Any) -> dict[str, Any]:
    """Who the stored login is, as the server's userinfo endpoint says (the token refreshed
    first when it is about to expire)."""
    from cli.api import ServerClient, error_of, fetch_json

    client = ServerClient(stored)
    login = client.fresh_login()
    response = fetch_json(
        "GET",
        login.userinfo_endpoint,
        server=login.server,
        headers={"Authorization": f"Bearer {login.access_token}"},
    )
    if response.status_code != 200:
        raise error_of(response, login.server)
    info = response.json()
    claims = _claims(login.access_token)
    return {
        "subject": f"user:{info['sub']}",
        "email": info.get("email"),
        "name": info.get("name"),
        "roles": info.get("roles", []),
        "server": login.server,
        "expires_at": datetime.fromtimestamp(login.expires_at, UTC).isoformat(),
        "refreshable": bool(login.refresh_token),
        "amr": claims.get("amr", []),
        "acr": claims.get("acr"),
    }


def whoami(json_output: bool = JsonFlag) -> None:
    """Who you are logged in as: subject, roles, server, expiry."""
    from cli.api import connect
    from cli.output import cli_errors, print_json

    with cli_errors():
        who = _identity(connect().login)
    if json_output:
        print_json(who)
        return
    for key in ("subject", "email", "name", "server", "expires_at"):
        if who[key]:
            _say(f"{key}: {who[key]}")
    _say(f"roles: {', '.join(who['roles']) or '(none)'}")
    _say(f"second factor: {'yes' if who['acr'] == 'urn:rampart:acr:mfa' else 'no'}")


def logout() -> None:
    """Revoke your tokens at the server (RFC 7009) and delete the stored login."""
    from cli.api import fetch_json, refusal_reason
    from cli.credentials import CredentialsRefused, credentials_path, delete_login, load_login
    from cli.output import cli_errors, fail
    from core.errors import ServiceUnavailable

    with cli_errors():
        try:
            stored = load_login()
        except CredentialsRefused as exc:
            fail(str(exc))
        if stored is None:
            _say("not logged in")
            return
        # The refresh token first: it could mint new access tokens.
        tokens = [("refresh_token", stored.refresh_token), ("access_token", stored.access_token)]
        for hint, token in tokens:
            if not token:
                continue
            answer = fetch_json(
                "POST",
                stored.revocation_endpoint,
                server=stored.server,
                data={"token": token, "token_type_hint": hint, "client_id": stored.client_id},
            )
            if answer.status_code != 200:
                raise ServiceUnavailable(
                    f"{stored.server} did not revoke the login ({refusal_reason(answer)}); "
                    f"it is kept in {credentials_path()}: try `rampart logout` again"
                )
        delete_login()
    _say(f"Logged out of {stored.server}: tokens revoked, {credentials_path()} deleted")
