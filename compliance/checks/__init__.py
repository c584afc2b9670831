"""Automated compliance checks: plain functions registered with :func:`check`, one small module
per area (``compliance/checks/<area>.py``). The engine (``compliance.engine``) runs them with
timeouts and records each result as signed evidence."""
