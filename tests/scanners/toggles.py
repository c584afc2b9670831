"""An ASGI wrapper that can "fix" an issue of a served shop while it runs: with ``csp`` set, every
response gets a Content-Security-Policy (with frame-ancestors), as a real fix would add."""

from __future__ import annotations

from typing import Any


class Toggled:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.csp: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.csp is None:
            await self.app(scope, receive, send)
            return
        policy = self.csp.encode()

        async def patched(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != b"content-security-policy"]  # fmt: skip
                message = {**message, "headers": [*headers,
                           (b"content-security-policy", policy)]}  # fmt: skip
            await send(message)

        await self.app(scope, receive, patched)
