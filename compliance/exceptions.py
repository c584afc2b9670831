"""Errors of the compliance engine (all RampartError, rendered as problem+json).

RampartError
├── NotFound ── UnknownControl              a qualified control id not in the library
├── ValidationFailed
│   ├── WaiverInvalid                       no reason/approver, expired, no slot
│   └── RemediationInvalid                  a rejection without a reason
├── Conflict ── RemediationNotPending       approve/reject of one no longer pending
└── ServiceUnavailable
    ├── AlertNotDelivered                   the webhook receiver did not take the alert
    └── RemediationFailed                   the action failed and was rolled back
"""

from __future__ import annotations

from core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed


class UnknownControl(NotFound):
    slug, title = "compliance-unknown-control", "Unknown compliance control"


class WaiverInvalid(ValidationFailed):
    slug, title = "compliance-waiver-invalid", "Waiver is invalid"


class AlertNotDelivered(ServiceUnavailable):
    slug, title = "compliance-alert-not-delivered", "Drift alert not delivered"


class RemediationInvalid(ValidationFailed):
    slug, title = "compliance-remediation-invalid", "Remediation request is invalid"


class RemediationNotPending(Conflict):
    slug, title = "compliance-remediation-not-pending", "Remediation is not pending"


class RemediationFailed(ServiceUnavailable):
    slug, title = "compliance-remediation-failed", "Remediation failed and was rolled back"
