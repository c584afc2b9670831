"""Which connectors a request reaches: Rampart's built-in ones (named here by module, imported
only when a request is processed) and the webhook and manual-task connectors configured in the
database."""

from __future__ import annotations

import importlib
import json

from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import Connector

# "module:attribute" of each built-in connector instance, in the order they run: the account
# last, so an erasure destroys the keys and data before the login that could ask again.
BUILTIN_CONNECTORS: tuple[str, ...] = (
    "compliance.gdpr.connectors.vault:connector",
    "compliance.gdpr.connectors.audit:connector",
    "compliance.gdpr.connectors.consent:connector",
    "compliance.gdpr.connectors.iam:connector",
)


def builtin_connectors() -> list[Connector]:
    found: list[Connector] = []
    for target in BUILTIN_CONNECTORS:
        module, _, attribute = target.partition(":")
        found.append(getattr(importlib.import_module(module), attribute))
    return found


def configured_connectors(session: Session) -> list[Connector]:
    """The enabled webhook and manual-task connectors of the database, by name."""
    from compliance.gdpr.connector_service import list_connectors
    from compliance.gdpr.connectors.manual import ManualConnector
    from compliance.gdpr.connectors.webhook import WebhookConnector

    found: list[Connector] = []
    for row in list_connectors(session, enabled_only=True):
        types = tuple(json.loads(row.types))
        if row.kind == "webhook" and row.url:
            found.append(WebhookConnector(row.id, row.name, row.url, types, row.timeout_seconds))
        elif row.kind == "manual" and row.instructions and row.assignee_email:
            found.append(
                ManualConnector(row.id, row.name, types, row.instructions, row.assignee_email)
            )
    return found


def connectors_for(session: Session) -> list[Connector]:
    """Every connector a request is sent to: the built-in ones, then the configured ones."""
    return builtin_connectors() + configured_connectors(session)
