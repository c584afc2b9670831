"""Signed evidence exports for auditors: one zip per framework and audit period, verifiable
with `rampart evidence verify` and with standard tools alone (docs/evidence-export.md)."""
