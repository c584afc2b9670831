"""`rampart db`: schema migrations of the configured database."""

from __future__ import annotations

import typer

from cli.output import JsonOption, cli_errors, print_json, stdout

app = typer.Typer(
    help="Database schema: upgrade and show the current revision.", no_args_is_help=True
)


@app.command("upgrade")
def upgrade(json_output: bool = JsonOption) -> None:
    """Migrate the database to the latest revision of every branch (idempotent)."""
    with cli_errors():
        from core import migrations
        from core.database import get_engine

        engine = get_engine()
        before = migrations.current_revisions(engine)
        migrations.upgrade(engine)
        after = migrations.current_revisions(engine)
    if json_output:
        print_json({"before": sorted(before), "after": sorted(after)})
    else:
        stdout.print(f"database at {', '.join(sorted(after)) or '(empty)'}")


@app.command("current")
def current(json_output: bool = JsonOption) -> None:
    """Show the applied revisions and whether the database is up to date."""
    with cli_errors():
        from core import migrations
        from core.database import get_engine

        engine = get_engine()
        applied = migrations.current_revisions(engine)
        heads = migrations.head_revisions(engine)
        up_to_date = migrations.is_up_to_date(engine)
    if json_output:
        print_json({"current": sorted(applied), "heads": sorted(heads), "up_to_date": up_to_date})
        return
    state = "up to date" if up_to_date else f"behind (heads: {', '.join(sorted(heads))})"
    stdout.print(f"current: {', '.join(sorted(applied)) or '(none)'} — {state}")
