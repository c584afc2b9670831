"""Audit ledger: append-only, hash-chained entries with the PCI DSS 10.2.2 fields and signed
checkpoints. ``service.record_event`` appends; ``verification.verify`` checks the chain."""
