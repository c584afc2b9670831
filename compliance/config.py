"""The compliance engine's view of its ``RAMPART_COMPLIANCE_*`` settings (core.settings): the
control library to judge against and where drift alerts go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from compliance.controls import LIBRARY_DIR, ControlLibrary, default_library, load_library
from core.settings import Settings, get_settings


@dataclass(frozen=True)
class ComplianceConfig:
    library_dir: Path | None = None
    """Another control library directory (tests, a shop's own frameworks); None: the built-in."""
    webhook_url: str | None = None
    """Where drift alerts (a control turning failing) are POSTed; None: no webhook."""
    webhook_secret: SecretStr | None = None
    """HMAC-SHA256 key of the ``X-Rampart-Signature`` header."""

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> ComplianceConfig:
        """The configuration as ``settings`` (default: the process's, read from ``RAMPART_*``)
        hold it."""
        settings = settings or get_settings()
        return cls(
            library_dir=settings.compliance_library,
            webhook_url=settings.compliance_webhook_url,
            webhook_secret=settings.compliance_webhook_secret,
        )

    def library(self) -> ControlLibrary:
        if self.library_dir is None or self.library_dir == LIBRARY_DIR:
            return default_library()
        return load_library(self.library_dir)
