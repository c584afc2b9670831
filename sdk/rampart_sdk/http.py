"""The service's own calls to Rampart: its access token (client credentials, cached until shortly
before it expires) and one request helper that turns failures into the SDK's errors."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import httpx

from rampart_sdk.errors import RampartRequestFailed, RampartUnavailable

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path
RENEW_BEFORE_EXPIRY_SECONDS = 30


class ServiceSession:
    """Authenticated calls as the service itself (``client_id`` + ``client_secret``)."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        http: httpx.Client | None = None,
        scope: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self.http = http or httpx.Client(timeout=5.0)
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def access_token(self) -> str:
        cached = self._token
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        with self._lock:
            cached = self._token
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            data = {"grant_type": "client_credentials"}
            if self._scope:
                data["scope"] = self._scope
            body = self._send("POST", TOKEN_PATH, data=data, auth=(self.client_id, self._secret))
            lifetime = float(body.get("expires_in", 60))
            renew_at = time.monotonic() + max(1.0, lifetime - RENEW_BEFORE_EXPIRY_SECONDS)
            self._token = (str(body["access_token"]), renew_at)
            return self._token[0]

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.access_token()}"}
        return self._send(method, path, headers=headers, **kwargs)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, self.base_url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise RampartUnavailable(f"Rampart not reachable at {self.base_url}") from exc
        if response.status_code >= 400:
            problem: dict[str, Any] = {}
            with contextlib.suppress(ValueError):
                problem = response.json()
            raise RampartRequestFailed(
                response.status_code,
                problem.get("type") or problem.get("error"),
                str(problem.get("detail") or problem.get("error_description") or ""),
            )
        return response.json()
