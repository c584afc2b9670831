"""TEST STAND-INS: a shop that gets the passive rules wrong on purpose (each planted issue named
in PLANTED) and a hardened one that gets them right; both real HTTP apps for the scanner."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

CARD = "4111111111111111"
# Rule keys the built-in engine must report on the weak shop (over plain http, so HSTS, Secure
# cookies, mixed content and TLS, which only apply to https, are not among them).
PLANTED = {
    "csp-missing",
    "frame-protection-missing",
    "content-type-options-missing",
    "referrer-policy-missing",
    "cookie-no-httponly",
    "cookie-no-samesite",
    "cors-misconfiguration",
    "server-version-disclosure",
    "card-number-disclosure",
    "sri-missing",
    "directory-listing",
}

WEAK_HOME = """<html><head><title>Weak shop</title>
<script src="https://cdn.example.com/widget.js"></script></head><body>
<a href="/orders/1001">order 1001</a> <a href="/orders/1002">order 1002</a>
<a href="/files/">files</a> <a href="/api/cart">cart</a> <a href="https://elsewhere.example/">out</a>
</body></html>"""


def _weak_headers() -> dict[str, str]:
    return {
        "server": "nginx/1.18.0",
        "access-control-allow-origin": "*",
        "access-control-allow-credentials": "true",
    }


def build_weak_shop() -> Starlette:
    async def home(request: Request) -> Response:
        response = HTMLResponse(WEAK_HOME, headers=_weak_headers())
        response.headers.append("set-cookie", "session=abc123; Path=/")
        return response

    async def order(request: Request) -> Response:
        body = f"<html><body>Order {request.path_params['number']}: card {CARD}</body></html>"
        return HTMLResponse(body, headers=_weak_headers())

    async def files(request: Request) -> Response:
        listing = "<html><head><title>Index of /files/</title></head><body><h1>Index of /files/"
        return HTMLResponse(listing + '</h1><a href="backup.sql">backup.sql</a></body></html>')

    async def cart(request: Request) -> Response:
        return JSONResponse({"items": []}, headers=_weak_headers())

    return Starlette(
        routes=[
            Route("/", home),
            Route("/orders/{number}", order),
            Route("/files/", files),
            Route("/api/cart", cart),
        ]
    )


HARDENED_HEADERS = {
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "server": "shop",
}


def build_hardened_shop() -> Starlette:
    async def home(request: Request) -> Response:
        page = (
            '<html><head><script src="/static/app.js"></script><script '
            'src="https://cdn.example.com/lib.js" integrity="sha384-abc" crossorigin="anonymous">'
            '</script></head><body><a href="/orders/1">order</a> card ending 1111</body></html>'
        )
        response = HTMLResponse(page, headers=HARDENED_HEADERS)
        response.headers.append("set-cookie", "session=x; Path=/; HttpOnly; SameSite=Lax")
        return response

    async def order(request: Request) -> Response:
        return HTMLResponse("<html><body>Order: **** **** **** 1111</body></html>",
                            headers=HARDENED_HEADERS)  # fmt: skip

    async def static(request: Request) -> Response:
        return Response("console.log(1)", media_type="text/javascript", headers=HARDENED_HEADERS)

    return Starlette(
        routes=[Route("/", home), Route("/orders/{n}", order), Route("/static/app.js", static)]
    )
