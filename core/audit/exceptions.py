"""Errors of the audit ledger (secrets offered to it raise :class:`core.errors.SecretRefused`).

RampartError
 └── AuditChainBroken   500  the stored chain failed verification; nothing was signed
"""

from __future__ import annotations

from core.errors import RampartError


class AuditChainBroken(RampartError):
    status, slug, title = 500, "audit-chain-broken", "The audit chain failed verification"
