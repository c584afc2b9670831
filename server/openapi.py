"""The OpenAPI document tells the truth about errors: every operation documents its 4xx and 5xx
answers as ``application/problem+json`` (FastAPI's default 422 shape is never sent)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from server.problems import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `type` is stable and documented in docs/api.md.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "URN naming this occurrence."},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Validation failures (422 only).",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

# Answers any operation can give, whatever it declares itself.
GENERIC_PROBLEMS = {
    "422": "Request validation failed",
    "4XX": "Client error",
    "5XX": "Server error or unavailable dependency",
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response object for a problem+json answer (for `responses=` on routes)."""
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema and the generic problem answers to every operation, in place."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in GENERIC_PROBLEMS.items():
                declared = responses.get(status)
                # FastAPI's own 422 (HTTPValidationError) is replaced: we never send that shape.
                if declared is None or "HTTPValidationError" in json.dumps(declared):
                    responses[status] = problem_response(description)
    for name in _FASTAPI_VALIDATION_SCHEMAS:  # in order: the first refers to the second
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    return document


def install_problem_documentation(app: FastAPI) -> None:
    """Post-process FastAPI's generated document once, on first request of /openapi.json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
