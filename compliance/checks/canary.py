"""Throw-away accounts, clients and vault tokens that probes exercise the live server with.

Each is created in its own committed transaction (the server is another process), carries a
random name that no real user has, and is deleted in a ``finally``: a probe leaves no account,
client, policy line or token behind, whatever it found."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from compliance.checks.base import CheckContext, CheckResult
from core.database import unit_of_work

CANARY_DOMAIN = "canary.rampart.invalid"  # RFC 2606 ``.invalid``: never a real mailbox
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class CanaryUser:
    email: str
    password: str


@contextmanager
def canary_user(ctx: CheckContext, roles: Sequence[str] = ()) -> Iterator[CanaryUser]:
    # The account and client services are imported when a probe runs: reading the check
    # registry (posture, `rampart compliance list`) must not load the IdP and Casbin.
    from iam.accounts.password_rules import generate_password
    from iam.accounts.service import create_user, delete_user, get_user_by_email

    email = f"canary-{secrets.token_hex(6)}@{CANARY_DOMAIN}"
    password = generate_password()
    with unit_of_work(ctx.sessions) as db:
        create_user(db, email, password=password, roles=list(roles), name="compliance canary")
    try:
        yield CanaryUser(email, password)
    finally:
        with unit_of_work(ctx.sessions) as db:
            user = get_user_by_email(db, email)
            if user is not None:
                delete_user(db, user, reason="compliance probe canary")


def browser(ctx: CheckContext) -> httpx.Client:
    """A client with its own cookie jar: one canary's login never leaks into another probe."""
    return httpx.Client(base_url=ctx.base_url, timeout=ctx.http.timeout, follow_redirects=False)


def submit_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """The login form as a browser fills it: fetch the page (CSRF token), post the form."""
    page = client.get("/login")
    match = _CSRF_FIELD.search(page.text)
    form = {"email": email, "password": password, "csrf_token": match[1] if match else ""}
    return client.post("/login", data=form)


@dataclass(frozen=True)
class CanaryClient:
    client_id: str
    secret: str


@contextmanager
def canary_client(ctx: CheckContext, policy_lines: Sequence[str] = ()) -> Iterator[CanaryClient]:
    """A client-credentials client; ``policy_lines`` (``{client}`` stands for its subject) are
    added to the policy for the probe and the previous policy is restored afterwards."""
    from iam.oauth2.schemas import ClientSpec
    from iam.oauth2.service import apply_client, delete_client, get_client
    from policies import service as policies

    client_id = f"canary-{secrets.token_hex(6)}"
    with unit_of_work(ctx.sessions) as db:
        applied = apply_client(
            db, ClientSpec(name=client_id, client_id=client_id, grant_types=["client_credentials"])
        )
        previous = policies.snapshot(db).lines
        if policy_lines:
            added = [line.format(client=f"client:{client_id}") for line in policy_lines]
            policies.apply_policy(
                db, [*previous, *added], actor="compliance", reason="compliance probe canary"
            )
    try:
        yield CanaryClient(client_id, applied.client_secret or "")
    finally:
        with unit_of_work(ctx.sessions) as db:
            if policy_lines:
                policies.apply_policy(
                    db, previous, actor="compliance", reason="compliance probe canary removed"
                )
            if get_client(db, client_id) is not None:
                delete_client(db, client_id)


def access_token(ctx: CheckContext, client: CanaryClient) -> str | None:
    response = ctx.http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
    )
    if response.status_code != 200:
        return None
    token = response.json().get("access_token")
    return token if isinstance(token, str) else None


TOKEN_REFUSED = CheckResult(
    "error", None, "an access token", "the token endpoint refused the canary"
)
"""What a probe answers when its canary client cannot get a token: the probe proved nothing."""


def bearer_headers(ctx: CheckContext, client: CanaryClient) -> dict[str, str] | None:
    """``Authorization`` for the canary's own access token; None when the token was refused."""
    token = access_token(ctx, client)
    return None if token is None else {"Authorization": f"Bearer {token}"}


POLICY_SYNC_SECONDS = 5.0  # replicas apply a policy change within a second; wait a few


def retry_until_allowed(
    send: Callable[[], httpx.Response], seconds: float = POLICY_SYNC_SECONDS
) -> httpx.Response:
    """The canary's rule reaches the server's enforcer within a second: retry 403s until then."""
    deadline = time.monotonic() + seconds
    while True:
        response = send()
        if response.status_code != 403 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@dataclass(frozen=True)
class CanaryToken:
    """A vault token of a canary client, with the client's ``Authorization`` header."""

    token: str
    headers: dict[str, str]
    created: httpx.Response
    """The tokenize answer (a probe may look for the value in it)."""


@contextmanager
def canary_token(
    ctx: CheckContext,
    policy_lines: Sequence[str],
    kind: str,
    value: str,
    subject: str | None = None,
) -> Iterator[CanaryToken | CheckResult]:
    """A canary client (``policy_lines`` as in :func:`canary_client`; they must allow
    ``tokenize`` and ``delete`` on ``vault/<kind>``) and ``value`` tokenized through the API.
    Yields the token, or the ``error`` result to answer when no token could be had. The token
    is deleted, then the client, whatever happens in the ``with`` block."""
    with canary_client(ctx, policy_lines) as client:
        headers = bearer_headers(ctx, client)
        if headers is None:
            yield TOKEN_REFUSED
            return
        body = {"value": value} if subject is None else {"value": value, "subject": subject}
        created = retry_until_allowed(
            lambda: ctx.http.post(f"/v1/vault/{kind}/tokens", json=body, headers=headers)
        )
        if created.status_code != 201:
            yield CheckResult("error", {"tokenize": created.status_code}, {"tokenize": 201})
            return
        token = str(created.json()["token"])
        try:
            yield CanaryToken(token, headers, created)
        finally:
            ctx.http.post(f"/v1/vault/{kind}/delete", json={"token": token}, headers=headers)
