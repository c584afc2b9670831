"""`rampart review`: access reviews (PCI DSS 7.2.4) — start one from the live policy and account
roles, list and show them, decide each item keep or revoke, sign off (signed evidence).

Acts on the configured database as the local operator (``cli:<user>``), like `rampart compliance`;
the API (/v1/compliance/reviews) is the way for named reviewers. Heavy imports stay inside the
commands so `--help` is fast."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import typer

from cli.output import JsonOption, cli_errors, print_json, print_table

app = typer.Typer(
    help="Access reviews (7.2.4): start, list, show, decide, sign-off.", no_args_is_help=True
)

ReviewArgument = typer.Argument(..., help="The review id.")


@contextmanager
def _acting_as_cli() -> Iterator[str]:
    from core import context

    actor = f"cli:{os.environ.get('SUDO_USER') or os.environ.get('USER') or 'unknown'}"
    token = context.set_current(context.ActingContext(actor=actor, origin="cli"))
    try:
        yield actor
    finally:
        context.reset(token)


def _library() -> Any:
    from compliance.config import ComplianceConfig

    return ComplianceConfig.from_env().library()


def _print_items(items: list[dict[str, Any]]) -> None:
    print_table(
        "Items",
        ["#", "subject", "tenant", "action", "object", "condition", "granted by", "decision"],
        [
            [
                i["position"],
                i["subject_label"],
                i["domain"],
                i["action"],
                i["object"],
                i["condition"] or "-",
                i["granted_by"],
                i["decision"] or "-",
            ]
            for i in items
        ],
        wrap=["granted by"],
    )


def _shown(review_id: UUID) -> dict[str, Any]:
    from compliance import reviews
    from core.database import unit_of_work

    with unit_of_work(read_only=True) as db:
        review = reviews.get_review(db, review_id)
        items = [reviews.item_summary(item) for item in reviews.items_of(db, review_id)]
        return {"review": reviews.review_summary(review), "items": items}


@app.command("start")
def start(
    object_: str | None = typer.Option(None, "--object", help="e.g. vault/pan"),
    action: str | None = typer.Option(None, "--action", help="e.g. detokenize"),
    reviewer: str | None = typer.Option(
        None, "--reviewer", help="role:<name> or user:<sub>; default: the control's owner role."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Open a review of who can do what now (optionally one object and/or action)."""
    with cli_errors():
        from compliance import reviews
        from compliance.reviews_access import AccessScope
        from core.database import unit_of_work

        with _acting_as_cli() as actor, unit_of_work() as db:
            review = reviews.start_review(
                db, _library(), actor=actor, scope=AccessScope(object_, action), reviewer=reviewer
            )
            review_id = review.id
        shown = _shown(review_id)
    if json_output:
        print_json(shown)
        return
    typer.echo(
        f"access review {review_id}: {len(shown['items'])} items for {reviewer or 'the owner'}"
    )
    _print_items(shown["items"])


@app.command("list")
def list_reviews(
    status: str | None = typer.Option(None, "--status", help="open or signed-off."),
    json_output: bool = JsonOption,
) -> None:
    """Reviews, newest first, with their undecided items."""
    with cli_errors():
        from compliance import reviews
        from core.database import unit_of_work

        with unit_of_work(read_only=True) as db:
            rows = reviews.list_reviews(db, status=status)
            open_counts = reviews.undecided_counts(db, [row.id for row in rows])
            listed = [
                {**reviews.review_summary(row), "undecided": open_counts.get(row.id, 0)}
                for row in rows
            ]
    if json_output:
        print_json({"reviews": listed})
        return
    print_table(
        "Access reviews",
        ["id", "status", "scope", "reviewer", "opened", "undecided"],
        [
            [
                r["id"],
                r["status"],
                " ".join(v for v in r["scope"].values() if v) or "all",
                r["reviewer"],
                r["opened_at"][:19],
                r["undecided"],
            ]
            for r in listed
        ],
    )


@app.command("show")
def show(review_id: UUID = ReviewArgument, json_output: bool = JsonOption) -> None:
    """A review and its items with their decisions."""
    with cli_errors():
        shown = _shown(review_id)
    if json_output:
        print_json(shown)
        return
    review = shown["review"]
    typer.echo(f"access review {review['id']}: {review['status']}, reviewer {review['reviewer']}")
    _print_items(shown["items"])


@app.command("decide")
def decide(
    review_id: UUID = ReviewArgument,
    position: int = typer.Argument(..., help="The item number (#)."),
    decision: str = typer.Argument(..., help="keep or revoke"),
    comment: str = typer.Option(..., "--comment", "-m", help="Why (recorded)."),
    json_output: bool = JsonOption,
) -> None:
    """Keep or revoke an item; a revocation is applied at once (a new policy version or the
    account's roles) and decides the other items the same grant gives."""
    with cli_errors():
        from compliance import reviews
        from core.database import unit_of_work

        with _acting_as_cli() as actor, unit_of_work() as db:
            decided = [
                reviews.item_summary(item)
                for item in reviews.decide(
                    db, review_id, position, decision=decision, comment=comment, actor=actor
                )
            ]
    if json_output:
        print_json({"decided": decided})
        return
    for item in decided:
        version = item["revoked_in_version"]
        where = f" (policy version {version})" if version else ""
        typer.echo(f"item {item['position']}: {item['decision']}{where}")


@app.command("sign-off")
def sign_off(review_id: UUID = ReviewArgument, json_output: bool = JsonOption) -> None:
    """Sign off a review whose every item is decided: signed evidence for 7.2.4."""
    with cli_errors():
        from compliance import reviews
        from core.database import unit_of_work
        from core.kms.provider import get_key_provider

        with _acting_as_cli() as actor, unit_of_work() as db:
            record = reviews.sign_off(db, _library(), get_key_provider(), review_id, actor=actor)
            result = {
                "review_id": str(review_id),
                "evidence_id": str(record.id),
                "sha256": record.digest,
                "audit_seq": record.audit_seq,
            }
    if json_output:
        print_json(result)
    else:
        typer.echo(f"signed off: evidence {result['evidence_id']} (sha256 {result['sha256']})")
