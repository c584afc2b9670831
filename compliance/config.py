"""The compliance engine's view of its ``RAMPART_COMPLIANCE_*`` environment variables (read
here, as ``core.jobs.config`` does, until they move into ``core/settings.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from compliance.controls import LIBRARY_DIR, ControlLibrary, default_library, load_library


@dataclass(frozen=True)
class ComplianceConfig:
    library_dir: Path | None = None
    """Another control library directory (tests, a shop's own frameworks); None: the built-in."""
    webhook_url: str | None = None
    """Where drift alerts (a control turning failing) are POSTed; None: no webhook."""
    webhook_secret: str | None = None
    """HMAC-SHA256 key of the ``X-Rampart-Signature`` header."""

    @classmethod
    def from_env(cls) -> ComplianceConfig:
        library = os.environ.get("RAMPART_COMPLIANCE_LIBRARY")
        return cls(
            library_dir=Path(library) if library else None,
            webhook_url=os.environ.get("RAMPART_COMPLIANCE_WEBHOOK_URL") or None,
            webhook_secret=os.environ.get("RAMPART_COMPLIANCE_WEBHOOK_SECRET") or None,
        )

    def library(self) -> ControlLibrary:
        if self.library_dir is None or self.library_dir == LIBRARY_DIR:
            return default_library()
        return load_library(self.library_dir)
