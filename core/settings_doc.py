"""Renders the settings reference (docs/configuration.md) from the Settings class itself."""

from __future__ import annotations

from pydantic import SecretStr

from core.settings import Settings

HEADER = """# Configuration

Rampart reads its settings from environment variables prefixed `RAMPART_`. This table is
generated from `core/settings.py` (`uv run python -m core.settings_doc > docs/configuration.md`);
a test fails when the two disagree.

| variable | default | description |
|---|---|---|
"""


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.default
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return "(secret)"
    return f"`{value}`"


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `RAMPART_{name.upper()}` | {_default(name)} | {description} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
