"""Errors of the enforcer: a policy line it cannot evaluate exactly is refused at load."""

from __future__ import annotations

from core.errors import ValidationFailed


class PolicyInvalid(ValidationFailed):
    slug, title = "policy-invalid", "Policy rule is invalid"
