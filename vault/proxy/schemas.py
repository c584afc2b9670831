"""The wire format of proxy route management (the proxied bodies themselves are free JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vault.proxy.routes import ProxyRoute


class FieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        max_length=512, description="JSONPath subset: `$.card.number`, `$.items[*].pan`."
    )
    type: str = Field(max_length=20, description="Token type: `pan`, `cvc`, `email`...")
    format: str | None = Field(default=None, description="Inbound only: token format to issue.")


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=63, description="2-63 characters: a-z, 0-9, dashes.")
    direction: Literal["outbound", "inbound"]
    destination: str = Field(
        max_length=2048, description="Base URL: https, no user info, no query (SSRF-guarded)."
    )
    methods: list[str] = Field(default=["POST"], description="Among POST, PUT, PATCH.")
    fields: list[FieldIn] = Field(description="1 to 50 declared fields.")
    purpose: str | None = Field(
        default=None, description="Outbound: the detokenize purpose, e.g. `payment.authorize`."
    )


class FieldOut(BaseModel):
    path: str
    type: str
    format: str | None = None


class RouteOut(BaseModel):
    name: str
    tenant: str
    direction: str
    destination: str
    methods: list[str]
    fields: list[FieldOut]
    purpose: str | None
    signed: bool
    created_at: str

    @classmethod
    def of(cls, route: ProxyRoute) -> RouteOut:
        return cls.model_validate(route.describe())


class RouteCreatedOut(BaseModel):
    route: RouteOut
    secret: str | None = Field(
        default=None,
        description="Inbound routes: the signing secret, shown this once (only its KMS-wrapped "
        "form is stored).",
    )


class RouteListOut(BaseModel):
    routes: list[RouteOut]


class SecretOut(BaseModel):
    secret: str


def declaration_fields(body: RouteIn) -> list[dict[str, Any]]:
    return [f.model_dump(exclude_none=True) for f in body.fields]
