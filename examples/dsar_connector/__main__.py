"""``python -m examples.dsar_connector``: serve the example CRM.

Environment: ``DSAR_CONNECTOR_SECRET`` (required, the webhook secret Rampart signs with),
``DSAR_CONNECTOR_PORT`` (default 8090), ``DSAR_CONNECTOR_HOST`` (default 127.0.0.1),
``DSAR_CRM_SUBJECTS`` (comma-separated customer ids to seed with demo records)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn

try:
    import rampart_sdk  # noqa: F401
except ImportError:  # run from a checkout: the SDK is its own distribution under sdk/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk"))

from examples.dsar_connector.app import create_app
from examples.dsar_connector.crm import Crm


def main() -> int:
    secret = os.environ.get("DSAR_CONNECTOR_SECRET", "")
    if len(secret) < 24:
        sys.stderr.write("DSAR_CONNECTOR_SECRET must be set (24 characters or more)\n")
        return 2
    crm = Crm()
    for subject in filter(None, os.environ.get("DSAR_CRM_SUBJECTS", "").split(",")):
        crm.seed_demo(subject.strip())
    uvicorn.run(
        create_app(secret, crm),
        host=os.environ.get("DSAR_CONNECTOR_HOST", "127.0.0.1"),
        port=int(os.environ.get("DSAR_CONNECTOR_PORT", "8090")),
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
