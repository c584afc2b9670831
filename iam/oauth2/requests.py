"""authlib's request objects over a snapshot of a Starlette request (query, form, headers),
taken on the event loop so authlib's sync code can run in the threadpool."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request


@dataclass(frozen=True, slots=True)
class RequestSnapshot:
    """What authlib needs of an HTTP request, readable from any thread."""

    method: str
    url: str
    query: Sequence[tuple[str, str]]
    form: Sequence[tuple[str, str]]
    headers: Mapping[str, str]
    cookies: Mapping[str, str] = field(default_factory=dict)


class SnapshotPayload(OAuth2Payload):  # type: ignore[misc]
    """Parameters of the request: the query for GET, the form body otherwise (RFC 6749 §3)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class RampartOAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, snapshot: RequestSnapshot) -> None:
        super().__init__(method=snapshot.method, uri=snapshot.url, headers=snapshot.headers)
        self.snapshot = snapshot
        pairs = snapshot.query if snapshot.method == "GET" else snapshot.form
        self.payload = SnapshotPayload(pairs)
        self._args = dict(snapshot.query)
        self._form = dict(snapshot.form)
        # Set by our grants for save_token (what was minted in this request).
        self.issued: Any = None

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form

    def repeated_parameters(self) -> list[str]:
        """Names given more than once: RFC 6749 §3.1/§3.2 forbid it."""
        return sorted(key for key, values in self.payload.datalist.items() if len(values) > 1)
