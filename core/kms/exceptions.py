"""Errors of key management, on top of :class:`core.errors.KmsUnavailable`.

KmsUnavailable (core.errors)      503  the KMS cannot be reached, times out, is sealed
 └── KmsAccessDenied              503  the KMS answers but refuses our credentials or policy
KmsMisconfigured                  500  key file or transit key unusable as configured
KeyUnwrapFailed                   500  wrapped key fails authentication (wrong context, tamper)
DataKeyDestroyed                  410  the data key was crypto-shredded
"""

from __future__ import annotations

from core.errors import KmsUnavailable, RampartError


class KmsAccessDenied(KmsUnavailable):
    slug, title = "kms-access-denied", "Key management service refused access"


class KmsMisconfigured(RampartError):
    slug, title = "kms-misconfigured", "Key management is misconfigured"


class KeyUnwrapFailed(RampartError):
    slug, title = "key-unwrap-failed", "Wrapped key failed authentication"


class DataKeyDestroyed(RampartError):
    status, slug, title = 410, "key-destroyed", "Data key destroyed"
