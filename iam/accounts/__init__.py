"""Accounts: users, roles, password hashes and rules, lockout and per-source login throttling."""
