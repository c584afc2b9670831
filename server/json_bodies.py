"""Duplicate keys in a JSON request body are refused (400 duplicate-json-key) on every routed
operation: one app-wide dependency re-reads the body FastAPI has already read (it is cached on the
request) with core.strict_json. The hot paths (server.fast_paths) parse with core.strict_json too
and hand such a body to the route, which answers it."""

from __future__ import annotations

from email.message import Message

from fastapi import Request

from core import strict_json


def _is_json(content_type: str) -> bool:
    # The rule FastAPI parses a body as JSON by: application/json or application/*+json.
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def refuse_duplicate_keys(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if not content_type or not _is_json(content_type):
        return
    body = await request.body()
    if not body:
        return
    try:
        strict_json.loads(body)
    except ValueError:
        return  # not JSON at all: the operation's own validation answers that (422)
