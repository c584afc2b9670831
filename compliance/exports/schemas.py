"""The wire of the evidence export API."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framework: str = Field(examples=["pci-dss-4.0.1", "gdpr"])
    period_from: AwareDatetime = Field(alias="from", description="Start of the period (inclusive).")
    period_to: AwareDatetime = Field(alias="to", description="End of the period (exclusive).")
    as_of: AwareDatetime | None = Field(
        default=None, description="Show the period as it stood then (default: its end, or now)."
    )


class SigningKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    public_key_pem: str
    fingerprint: str = Field(description="SHA-256 (hex) of the raw 32-byte public key.")
