"""Shared kernel: settings, database and migrations, audit ledger, key management, errors, ids,
clock. Imports no other package of the project."""
