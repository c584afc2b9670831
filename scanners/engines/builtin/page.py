"""A fetched page as the passive rules see it, and the HTML facts they need (links to crawl,
scripts and styles with their integrity attribute, resources an https page loads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

import httpx


@dataclass(frozen=True, slots=True)
class Resource:
    tag: str  # script, link, img, iframe ...
    url: str  # absolute
    integrity: bool


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    method: str
    status: int
    headers: httpx.Headers
    text: str = field(repr=False)
    links: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()

    @property
    def is_html(self) -> bool:
        return "html" in self.headers.get("content-type", "").lower()

    @property
    def is_https(self) -> bool:
        return self.url.startswith("https://")


_LINK_ATTRS = {"a": "href", "area": "href", "form": "action", "iframe": "src", "frame": "src"}
_RESOURCE_ATTRS = {"script": "src", "img": "src", "iframe": "src", "audio": "src",
                   "video": "src", "source": "src", "embed": "src", "object": "data"}  # fmt: skip


class _Extractor(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []
        self.resources: list[Resource] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and values.get("href"):
            self.base = urljoin(self.base, values["href"])
        link = _LINK_ATTRS.get(tag)
        if link and values.get(link):
            self.links.append(self._absolute(values[link]))
        resource = _RESOURCE_ATTRS.get(tag)
        if tag == "link" and "stylesheet" in values.get("rel", "").lower().split():
            resource = "href"
        if resource and values.get(resource):
            url = self._absolute(values[resource])
            self.resources.append(Resource(tag, url, bool(values.get("integrity"))))

    def _absolute(self, value: str) -> str:
        return urldefrag(urljoin(self.base, value.strip())).url


def parse_html(url: str, text: str) -> tuple[tuple[str, ...], tuple[Resource, ...]]:
    """Links and loaded resources of an HTML document, as absolute URLs."""
    extractor = _Extractor(url)
    try:
        extractor.feed(text)
        extractor.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    return tuple(dict.fromkeys(extractor.links)), tuple(extractor.resources)
