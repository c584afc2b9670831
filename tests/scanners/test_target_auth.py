"""Client-credentials auth for scan targets: a target registered with --auth-client is scanned
with a bearer token the runner mints in-process for that Rampart client; a local app that
requires the bearer verifies it with the Rampart SDK against Rampart's own published JWKS. No
secret is stored on the target, and the token appears nowhere: not in the target, the scan,
the audit ledger, the job rows nor the logs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from cli.main import app as cli_app
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from iam.keys.service import published_jwks
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client
from scanners.models import ScanTarget
from scanners.runner import create_scan, execute_scan
from scanners.targets import add_target
from server.registry import import_all_models
from tests.fixtures.local_apps import serve_app

import_all_models()  # the PostgreSQL fixture empties every table the metadata knows

if TYPE_CHECKING:
    from rampart_sdk import TokenVerifier

# The SDK is its own distribution (sdk/pyproject.toml); the tests import it from the repository.
SDK_DIR = Path(__file__).resolve().parents[2] / "sdk"
AUDIENCE = "https://shop.test/api"
runner = CliRunner()


@pytest.fixture(autouse=True)
def scan_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("RAMPART_SCAN_MAX_SECONDS", "30")
    get_settings.cache_clear()
    get_key_provider().ensure_keys()
    return get_settings()


@dataclass
class Seen:
    verified: list[tuple[str, str]] = field(default_factory=list)  # (client_id, path)
    refused: list[str] = field(default_factory=list)  # reasons
    tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _jwks_app() -> Starlette:
    """Rampart's published JWKS document (the keys its token endpoint signs with)."""

    def jwks(request: Request) -> Response:
        with unit_of_work(read_only=True) as db:
            return JSONResponse(published_jwks(db))

    return Starlette(routes=[Route("/jwks.json", jwks)])


def _protected_shop(verifier: TokenVerifier, seen: Seen) -> Starlette:
    from rampart_sdk import TokenInvalid

    def page(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            with seen.lock:
                seen.refused.append("no bearer")
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            verified = verifier.verify(token)
        except TokenInvalid as exc:
            with seen.lock:
                seen.refused.append(exc.reason)
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        with seen.lock:
            seen.verified.append((verified.client_id, request.url.path))
            seen.tokens.add(token)
        return HTMLResponse(
            '<html><body><a href="/orders">orders</a> <a href="/account">account</a></body></html>'
        )

    return Starlette(routes=[Route(path, page) for path in ("/", "/orders", "/account")])


@pytest.fixture
def shop(settings: Settings) -> Iterator[tuple[str, Seen]]:
    if str(SDK_DIR) not in sys.path:
        sys.path.insert(0, str(SDK_DIR))
    from rampart_sdk import JwksCache, TokenVerifier

    seen = Seen()
    with serve_app(_jwks_app()) as jwks_url:
        verifier = TokenVerifier(
            issuer=get_settings().issuer,
            audience=AUDIENCE,
            jwks=JwksCache(f"{jwks_url}/jwks.json", min_refetch_seconds=0.0),
        )
        with serve_app(_protected_shop(verifier, seen)) as url:
            yield url, seen


def _client(client_id: str, **extra: object) -> None:
    spec = {"name": client_id, "client_id": client_id, "grant_types": ["client_credentials"],
            "scopes": ["scan"], "audiences": [AUDIENCE], **extra}  # fmt: skip
    with unit_of_work() as db:
        apply_client(db, ClientSpec.model_validate(spec))


def test_a_scan_sends_a_token_the_app_verifies_with_rampart_jwks(
    shop: tuple[str, Seen], caplog: pytest.LogCaptureFixture
) -> None:
    url, seen = shop
    _client("scanner-bot")
    result = runner.invoke(cli_app, ["scan", "target", "add", url, "--name", "private",
                                     "--auth-client", "scanner-bot", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with unit_of_work() as session:
        scan_id = create_scan(session, "private", "builtin", actor="t").id
    caplog.set_level("DEBUG")
    done = execute_scan(scan_id)
    assert done["status"] == "complete", done["error"]
    assert seen.refused == []
    assert {path for _, path in seen.verified} == {"/", "/orders", "/account"}
    assert {client for client, _ in seen.verified} == {"scanner-bot"}
    assert done["pages_done"] == 3
    # The token lives only in the request: nowhere in the database, nor the logs.
    assert seen.tokens
    with unit_of_work(read_only=True) as session:
        target = session.scalars(select(ScanTarget).where(ScanTarget.name == "private")).one()
        assert target.auth_client == "scanner-bot"
        assert target.headers_sealed is None and target.header_names == "[]"
        dumps = [
            str(row)
            for table in ("scanners_targets", "scanners_scans", "audit_entries", "job_runs")
            for row in session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        ]
        issued = session.execute(
            text("SELECT details FROM audit_entries WHERE event_type = 'oauth2.token.issued'")
        ).all()
    assert len(issued) == 1 and "scanner-bot" in str(issued[0])
    for token in seen.tokens:
        assert all(token not in dump for dump in dumps)
        assert token not in caplog.text
        assert token.split(".")[2] not in caplog.text


def test_without_the_client_the_app_refuses_the_scan(shop: tuple[str, Seen]) -> None:
    url, seen = shop
    with unit_of_work() as session:
        add_target(session, name="anonymous", url=url, actor="t")
        scan_id = create_scan(session, "anonymous", "builtin", actor="t").id
    execute_scan(scan_id)
    assert seen.verified == [] and seen.refused == ["no bearer"]


def test_a_token_for_another_audience_is_refused_by_the_app(shop: tuple[str, Seen]) -> None:
    url, seen = shop
    _client("other-bot", audiences=["https://elsewhere.test"])
    with unit_of_work() as session:
        add_target(session, name="wrong-aud", url=url, auth_client="other-bot", actor="t")
        scan_id = create_scan(session, "wrong-aud", "builtin", actor="t").id
    execute_scan(scan_id)
    assert seen.verified == [] and seen.refused == ["wrong audience"]


@pytest.mark.parametrize(
    ("client_id", "extra", "message"),
    [
        ("nobody", None, "no enabled OAuth2 client 'nobody'"),
        ("web-app", {"grant_types": ["authorization_code"],
                     "redirect_uris": ["https://shop.test/cb"]}, "client_credentials"),
    ],
)  # fmt: skip
def test_an_unusable_client_is_refused_at_add(
    client_id: str, extra: dict[str, object] | None, message: str
) -> None:
    if extra is not None:
        _client(client_id, **extra)
    result = runner.invoke(cli_app, ["scan", "target", "add", "http://127.0.0.1:9/", "--name",
                                     "t1", "--auth-client", client_id])  # fmt: skip
    assert result.exit_code != 0 and message in result.stderr
    with unit_of_work(read_only=True) as session:
        assert session.scalars(select(ScanTarget)).first() is None


def test_auth_client_and_an_authorization_header_exclude_each_other() -> None:
    _client("scanner-bot")
    result = runner.invoke(cli_app, ["scan", "target", "add", "http://127.0.0.1:9/", "--name",
                                     "t2", "--auth-client", "scanner-bot",
                                     "--header", "Authorization: Bearer x"])  # fmt: skip
    assert result.exit_code != 0 and "exclude each other" in result.stderr


def test_a_disabled_client_fails_the_scan_in_one_line_and_mints_nothing(
    shop: tuple[str, Seen],
) -> None:
    url, seen = shop
    _client("scanner-bot")
    with unit_of_work() as session:
        add_target(session, name="private", url=url, auth_client="scanner-bot", actor="t")
        scan_id = create_scan(session, "private", "builtin", actor="t").id
        session.execute(
            text("UPDATE oauth2_clients SET enabled = :off WHERE client_id = 'scanner-bot'"),
            {"off": False},
        )
    done = execute_scan(scan_id)
    assert done["status"] == "failed"
    assert done["error"] == "no enabled OAuth2 client 'scanner-bot'"
    assert seen.verified == [] and seen.refused == []
    with unit_of_work(read_only=True) as session:
        issued = session.execute(
            text("SELECT event_type FROM audit_entries WHERE event_type = 'oauth2.token.issued'")
        ).all()
    assert issued == []
