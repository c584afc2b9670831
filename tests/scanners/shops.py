"""TEST STAND-INS: a shop that gets the passive rules wrong on purpose (each planted issue named
in PLANTED) and a hardened one that gets them right; both real HTTP apps for the scanner."""

from __future__ import annotations

import html
import sqlite3

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
<a href="/search?q=shoes">search</a> <a href="/product?id=1">product 1</a>
</body></html>"""
# What an active engine (wapiti, ZAP) must find on the weak shop, beyond the passive issues.
PLANTED_ACTIVE = {"xss-reflected", "sql-injection"}


def _products() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO products VALUES (?, ?)", [(1, "shoes"), (2, "socks")])
    return db


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

    async def search(request: Request) -> Response:
        # Planted reflected XSS: the query is echoed unescaped.
        query = request.query_params.get("q", "")
        return HTMLResponse(f"<html><body>Results for {query}</body></html>")

    db = _products()

    async def product(request: Request) -> Response:
        # Planted error-based SQL injection: a real query built by concatenation, its error text
        # returned to the client.
        sql = "SELECT name FROM products WHERE id = " + request.query_params.get("id", "1")  # noqa: S608
        try:
            rows = db.execute(sql).fetchall()
        except sqlite3.Error as exc:
            return HTMLResponse(f"<html><body>sqlite3.OperationalError: {exc}</body></html>", 500)
        names = ", ".join(html.escape(str(row[0])) for row in rows)
        return HTMLResponse(f"<html><body>Product: {names}</body></html>")

    return Starlette(
        routes=[
            Route("/", home),
            Route("/orders/{number}", order),
            Route("/files/", files),
            Route("/api/cart", cart),
            Route("/search", search),
            Route("/product", product),
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
