"""Errors of the compliance engine (all RampartError, rendered as problem+json).

RampartError
├── NotFound ── UnknownControl          a qualified control id not in the library
└── ValidationFailed ── WaiverInvalid   no reason/approver, expired, no slot
"""

from __future__ import annotations

from core.errors import NotFound, ServiceUnavailable, ValidationFailed


class UnknownControl(NotFound):
    slug, title = "compliance-unknown-control", "Unknown compliance control"


class WaiverInvalid(ValidationFailed):
    slug, title = "compliance-waiver-invalid", "Waiver is invalid"


class AlertNotDelivered(ServiceUnavailable):
    slug, title = "compliance-alert-not-delivered", "Drift alert not delivered"
