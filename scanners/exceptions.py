"""Errors of the scanners. None carries a header value, a card number or a response body.

RampartError (core)
 ├── NotFound (core)            404
 │    ├── TargetNotFound        404  no registered target of that name
 │    ├── ScanNotFound          404
 │    └── FindingNotFound       404
 ├── ValidationFailed (core)    422
 │    ├── TargetInvalid         422  a bad name, URL, pattern or header
 │    └── ReportFormatUnknown   422  a report format other than sarif, junit, json, html
 ├── Conflict (core)            409
 │    ├── TargetExists          409
 │    └── TransitionRefused     409  a lifecycle change the finding's status does not allow
 ├── TargetRefused              403  the SSRF guard refuses the address the target resolves to
 └── ScanFailed                 502  the target could not be scanned (unreachable, timeout)
"""

from __future__ import annotations

from core.errors import Conflict, NotFound, RampartError, ValidationFailed


class TargetNotFound(NotFound):
    slug, title = "scan-target-not-found", "Scan target not found"


class ScanNotFound(NotFound):
    slug, title = "scan-not-found", "Scan not found"


class FindingNotFound(NotFound):
    slug, title = "scan-finding-not-found", "Finding not found"


class TargetInvalid(ValidationFailed):
    slug, title = "scan-target-invalid", "Scan target invalid"


class TargetExists(Conflict):
    slug, title = "scan-target-exists", "Scan target already exists"


class TransitionRefused(Conflict):
    slug, title = "scan-finding-transition-refused", "Finding transition refused"


class TargetRefused(RampartError):
    status, slug, title = 403, "scan-target-refused", "Scan target refused"


class ScanFailed(RampartError):
    status, slug, title = 502, "scan-failed", "Scan failed"


class ReportFormatUnknown(ValidationFailed):
    slug, title = "scan-report-format-unknown", "Report format unknown"
