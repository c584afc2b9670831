"""The `rampart` command (typer): one sub-command group per domain."""
