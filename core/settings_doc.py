"""Renders the settings reference (docs/configuration.md) from the Settings class itself."""

from __future__ import annotations

from pydantic import SecretStr

from core.settings import Settings

HEADER = """# Configuration

Rampart reads its settings from environment variables prefixed `RAMPART_`. This table is
generated from `core/settings.py` (`uv run python -m core.settings_doc > docs/configuration.md`);
a test fails when the two disagree.

A value Rampart cannot use stops every command (and `python -m server`) before it does anything,
with one line per problem on stderr naming the variable, the value given and what is allowed,
e.g. `error: RAMPART_KMS='hsm': input should be 'local' or 'vault'`. Lists are read as JSON
(`RAMPART_VAULT_DETERMINISTIC_TYPES='["email"]'`). A secret's value is never shown.

`RAMPART_ISSUER` unset means `http://RAMPART_HOST:RAMPART_PORT` of the running server, so
`rampart serve --port 9000` issues tokens as `http://127.0.0.1:9000` (a wildcard host such as
`0.0.0.0` gives `127.0.0.1`: it is no address a client can dial; set the public URL instead).
When it is set and names this very server (a loopback name or the bind host) on another port,
the server starts with a `warning:` line on stderr; an issuer on another host is taken for the
public URL of a proxy in front and left alone. `rampart serve` and `python -m server` hand
their `--host` and `--port` on to the settings; a bare `uvicorn --factory server.app:create_app`
does not, so give it `RAMPART_PORT` (or `RAMPART_ISSUER`) too.

`RAMPART_ENV=production` refuses to start `rampart serve`, `python -m server` and
`rampart worker` with any insecure default, one line each naming the setting to change: SQLite
(`RAMPART_DATABASE_URL`), the local key file (`RAMPART_KMS`), an issuer that is not `https://`
(`RAMPART_ISSUER`) and, for the server, a scheduler nobody chose (`RAMPART_SCHEDULER`:
`embedded` to run it inside the API process, `off` to leave it to `rampart worker`). `rampart init`
and `serve` then refuse to generate and print the first admin's password: set
`RAMPART_ADMIN_PASSWORD` (or run `init` on a terminal, which prompts).

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
