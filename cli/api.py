"""The CLI's client of a Rampart server, for every command that acts through the API as the
logged-in person: base URL and bearer from the stored login (`rampart login`), the token
refreshed when it is about to expire, and every refusal turned into the project's errors
(``core.errors``), which ``cli.output.cli_errors`` prints as one line.

    with cli_errors():
        server = connect()
        body = server.post_json("/v1/vault/pan/detokenize", {...})

401 says "run `rampart login`"; a problem+json answer gives its ``detail``; an OAuth error its
``error`` and ``error_description``. Tokens never appear in an error or a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from cli.credentials import CredentialsRefused, StoredLogin, load_login, save_login
from core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RampartError,
    ServiceUnavailable,
    Unauthenticated,
)

TIMEOUT_SECONDS = 30.0
# Refresh a little before expiry, so a request does not carry a token that dies in flight.
REFRESH_MARGIN_SECONDS = 30
LOGIN_HINT = "run `rampart login`"

_BY_STATUS: dict[int, type[RampartError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    503: ServiceUnavailable,
}


def server_base(url: str) -> str:
    return url.rstrip("/")


def refusal_reason(response: httpx.Response) -> str:
    """What the server said, in one line: a problem's detail, an OAuth error, or the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("detail"), str):
            return " ".join(str(body["detail"]).split())
        if isinstance(body.get("error"), str):
            description = body.get("error_description")
            error = str(body["error"])
            return f"{error}: {description}" if isinstance(description, str) else error
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def error_of(response: httpx.Response, server: str) -> RampartError:
    status = response.status_code
    reason = refusal_reason(response)
    if status == 401:
        return Unauthenticated(f"{server} did not accept your login ({reason}): {LOGIN_HINT}")
    if status == 403:
        return Forbidden(f"{server} refused: {reason}")
    kind = _BY_STATUS.get(status, BadRequest if status < 500 else RampartError)
    return kind(f"{server} answered {status}: {reason}")


def _transport_error(server: str, exc: httpx.HTTPError) -> RampartError:
    return ServiceUnavailable(f"{server} could not be reached: {type(exc).__name__}")


def fetch_json(
    method: str,
    url: str,
    *,
    server: str,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One request without a login (discovery, the OAuth endpoints); transport errors become
    ServiceUnavailable. The caller reads the status: OAuth answers 400 on purpose."""
    try:
        return httpx.request(
            method, url, data=data, json=json, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        raise _transport_error(server, exc) from None


def discover(server: str) -> dict[str, Any]:
    """The server's OpenID Connect discovery document (it names every OAuth endpoint)."""
    response = fetch_json("GET", server + "/.well-known/openid-configuration", server=server)
    if response.status_code != 200:
        raise error_of(response, server)
    document: dict[str, Any] = response.json()
    return document


def _stored_login() -> StoredLogin:
    try:
        login = load_login()
    except CredentialsRefused as exc:
        raise Unauthenticated(str(exc)) from None
    if login is None:
        raise Unauthenticated(f"not logged in: {LOGIN_HINT}")
    return login


def connect() -> ServerClient:
    """A client for the stored login; refused when RAMPART_SERVER_URL names another server."""
    from core.settings import get_settings

    login = _stored_login()
    wanted = get_settings().server_url
    if wanted and server_base(wanted) != login.server:
        raise Unauthenticated(
            f"logged in to {login.server}, not RAMPART_SERVER_URL={server_base(wanted)}: "
            f"{LOGIN_HINT}"
        )
    return ServerClient(login)


class ServerClient:
    """Requests as the logged-in person; refreshes and stores the token when it runs out."""

    def __init__(self, login: StoredLogin) -> None:
        self.login = login

    @property
    def server(self) -> str:
        return self.login.server

    def fresh_login(self) -> StoredLogin:
        if self.login.expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return self.login
        if not self.login.refresh_token:
            raise Unauthenticated(f"your login to {self.server} expired: {LOGIN_HINT}")
        response = fetch_json(
            "POST",
            self.login.token_endpoint,
            server=self.server,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.login.refresh_token,
                "client_id": self.login.client_id,
            },
        )
        if response.status_code != 200:
            reason = refusal_reason(response)
            raise Unauthenticated(f"your login to {self.server} expired ({reason}): {LOGIN_HINT}")
        self.login = login_from_token_answer(self.login, response.json())
        save_login(self.login)
        return self.login

    def request(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        """The answer when it is a success; every refusal raised as a RampartError."""
        login = self.fresh_login()
        try:
            response = httpx.request(
                method,
                self.server + path,
                json=json,
                headers={"Authorization": f"Bearer {login.access_token}"},
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise _transport_error(self.server, exc) from None
        if response.status_code >= 400:
            raise error_of(response, self.server)
        return response

    def download(
        self,
        path: str,
        body: Any,
        destination: Path,
        on_bytes: Callable[[int, int | None], None] | None = None,
        timeout: float = 600.0,
    ) -> httpx.Headers:
        """POST ``body`` and stream the answer into ``destination`` (written beside it, then
        renamed, so a failed download leaves nothing); the answer's headers."""
        login = self.fresh_login()
        partial = destination.with_name(f".{destination.name}.partial")
        try:
            with httpx.stream(
                "POST",
                self.server + path,
                json=body,
                headers={"Authorization": f"Bearer {login.access_token}"},
                timeout=timeout,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_of(response, self.server)
                total = int(response.headers.get("content-length", 0)) or None
                done = 0
                with partial.open("wb") as file:
                    for chunk in response.iter_bytes(1 << 16):
                        file.write(chunk)
                        done += len(chunk)
                        if on_bytes is not None:
                            on_bytes(done, total)
            partial.replace(destination)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise _transport_error(self.server, exc) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return response.headers

    def get_json(self, path: str) -> Any:
        return self.request("GET", path).json()

    def post_json(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body).json()


def login_from_token_answer(login: StoredLogin, answer: Mapping[str, Any]) -> StoredLogin:
    """The stored login after a token endpoint's answer (a rotated refresh token replaces the
    old one; an answer without one keeps it)."""
    return replace(
        login,
        access_token=str(answer["access_token"]),
        expires_at=time.time() + float(answer.get("expires_in", 0)),
        refresh_token=str(answer.get("refresh_token") or login.refresh_token or "") or None,
        scope=str(answer.get("scope", login.scope)),
    )
