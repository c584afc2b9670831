"""Connectors: each system holding a data subject's personal data, reached for each right."""
