"""TEST STAND-IN: an HTTP app that gets every control wrong on purpose, so each probe can be seen
failing against real HTTP: no auth on /v1, symmetric token keys, no lockout, no security headers,
a CDN script without SRI, stack traces in errors, card numbers echoed back, no purpose needed,
erasure that erases nothing, a clock an hour fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CARD = "4111111111111111"
PAGE = """<html><body><form method="post" action="/login">
<input type="hidden" name="csrf_token" value="weak"></form>
<script src="/static/app.js"></script>
<script src="https://cdn.example.com/widget.js"></script></body></html>"""


async def openapi(request: Request) -> Response:
    return JSONResponse({"paths": {"/v1/open": {"get": {}}, "/v1/items/{id}": {"post": {}}}})


async def anything_v1(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def discovery(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "issuer": base,
            "jwks_uri": base + "/jwks",
            "token_endpoint": base + "/token",
            "id_token_signing_alg_values_supported": ["HS256", "none"],
        }
    )


async def jwks(request: Request) -> Response:
    return JSONResponse(
        {"keys": [{"kty": "oct", "kid": "shared", "alg": "HS256", "k": "c2VjcmV0"}]}
    )


async def token(request: Request) -> Response:
    """Any client gets a token (no client authentication); a body it cannot parse crashes it."""
    try:
        grant = (await request.form()).get("grant_type")
    except Exception:  # the point: whatever breaks, the trace goes out
        grant = None
    if grant != "client_credentials":
        return await crash(request)
    return JSONResponse({"access_token": "anything", "token_type": "Bearer"})


async def login_page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def login_submit(request: Request) -> Response:
    form = await request.form()
    # No lockout: a right-looking password always works (the canary's is 24 letters and digits).
    if len(str(form.get("password", ""))) == 24:
        return Response(status_code=303, headers={"location": "/account"})
    return HTMLResponse("wrong", status_code=401)


async def account(request: Request) -> Response:
    return HTMLResponse("your account")


async def healthz(request: Request) -> Response:
    fast = datetime.now(UTC) + timedelta(hours=1)
    return PlainTextResponse("ok", headers={"date": format_datetime(fast, usegmt=True)})


async def crash(request: Request) -> Response:
    trace = 'Traceback (most recent call last):\n  File "/app/shop.py", line 1\nKeyError'
    return PlainTextResponse(trace, status_code=500)


async def tokenize(request: Request) -> Response:
    return JSONResponse({"token": "tok_" + CARD, "value": CARD}, status_code=201)


async def echo_card(request: Request) -> Response:
    return JSONResponse({"token": "tok", "masked": CARD, "value": CARD})


async def ok(request: Request) -> Response:
    return JSONResponse({"ok": True})


def build_weak_shop() -> Starlette:
    routes = [
        Route("/openapi.json", openapi),
        Route("/v1/open", anything_v1),
        Route("/v1/items/probe", anything_v1, methods=["POST"]),
        Route("/v1/vault/stats", anything_v1),
        Route("/v1/policies", anything_v1),
        Route("/.well-known/openid-configuration", discovery),
        Route("/jwks", jwks),
        Route("/token", token, methods=["POST"]),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/login", login_page),
        Route("/login", login_submit, methods=["POST"]),
        Route("/account", account),
        Route("/healthz", healthz),
        Route("/readyz", crash),
        Route("/v1/compliance-probe-missing", crash),
        Route("/v1/vault/pan/tokens", tokenize, methods=["POST"]),
        Route("/v1/vault/email/tokens", tokenize, methods=["POST"]),
        Route("/v1/vault/pan/metadata", echo_card, methods=["POST"]),
        Route("/v1/vault/pan/reveal", echo_card, methods=["POST"]),
        Route("/v1/vault/pan/detokenize", echo_card, methods=["POST"]),
        Route("/v1/vault/email/detokenize", echo_card, methods=["POST"]),
        Route("/v1/vault/pan/delete", ok, methods=["POST"]),
        Route("/v1/vault/email/delete", ok, methods=["POST"]),
        Route("/v1/vault/subjects/erase", ok, methods=["POST"]),
    ]
    return Starlette(routes=routes)
