"""`rampart demo seed`: fill a fresh installation with a realistic demo shop, so a newcomer sees a
meaningful compliance posture at once.

The users, roles, clients and policy come from ``examples/demo-shop.yaml`` through the same code
path as ``rampart apply -f``. What a declarative document cannot express is then added through
the services: demo card numbers (the card networks' published test numbers) tokenized in the
vault, a few deliberate weaknesses the compliance checks detect, and the demo customers' consent
decisions, after which personalisation and segmentation run only for those who consent. Every
step is idempotent: a second run changes nothing and says so."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import JsonOption, cli_errors, print_json, stderr

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(help="Demo data: seed a realistic demo shop.", no_args_is_help=True)

DEMO_FILE = Path(__file__).resolve().parent.parent / "examples" / "demo-shop.yaml"
DEMO_TENANT = "rampart"
CARD_TYPE = "pan"  # the vault's card-number token type
# Published test card numbers (Visa, Mastercard, Amex): Luhn-valid, never issued to anyone.
DEMO_CARDS: tuple[tuple[str, str], ...] = (
    ("demo-customer-jean.dupont", "4111111111111111"),
    ("demo-customer-maria.rossi", "5555555555554444"),
    ("demo-customer-li.wei", "378282246310005"),
)
# Deliberate weaknesses: (account, days since its last login, what a check reports).
ADMIN_WITHOUT_MFA = "david.okafor@demo-shop.example"
INACTIVE_ACCOUNT = "farid.haddad@demo-shop.example"
WEAKNESSES: tuple[tuple[str, int, str], ...] = (
    (ADMIN_WITHOUT_MFA, 2, "administrator who logs in without a second factor (8.4.1, 8.5.1)"),
    (INACTIVE_ACCOUNT, 200, "active account unused for 200 days (8.2.6)"),
)


def _actor() -> str:
    return f"cli:{os.environ.get('SUDO_USER') or os.environ.get('USER') or 'unknown'}"


def _progress(enabled: bool, message: str) -> None:
    if enabled:
        stderr.print(message)


def _tokenize_cards(session: Session, actor: str) -> tuple[list[str], list[str]]:
    """Tokenize each demo card once per demo customer (its subject): (created, unchanged)."""
    from sqlalchemy import select

    from vault import service
    from vault.models import VaultToken
    from vault.records import TokenizeRequest

    created: list[str] = []
    unchanged: list[str] = []
    for subject, number in DEMO_CARDS:
        exists = session.scalar(
            select(VaultToken.id)
            .where(VaultToken.tenant == DEMO_TENANT)
            .where(VaultToken.token_type == CARD_TYPE)
            .where(VaultToken.subject == subject)
            .limit(1)
        )
        if exists is not None:
            unchanged.append(f"card:{subject}")
            continue
        service.tokenize(
            session,
            tenant=DEMO_TENANT,
            token_type=CARD_TYPE,
            item=TokenizeRequest(number, subject=subject),
            actor=actor,
        )
        created.append(f"card:{subject}")
    return created, unchanged


def _plant_weaknesses(session: Session) -> tuple[list[str], list[str]]:
    """Back-date the last login of the weak accounts (a demo cannot wait 200 days)."""
    from core.audit.service import record_event
    from core.clock import utcnow
    from core.errors import ValidationFailed
    from iam.accounts.service import get_user_by_email

    created: list[str] = []
    unchanged: list[str] = []
    now = utcnow()
    for email, days, what in WEAKNESSES:
        user = get_user_by_email(session, email)
        if user is None:  # the document creates it: only a changed demo file gets here
            raise ValidationFailed(f"demo account {email} is missing from the demo document")
        # Already planted (its last login at least that old): leave it alone.
        if user.last_login_at is not None and now - user.last_login_at >= timedelta(days=days):
            unchanged.append(f"weakness:{email}")
            continue
        user.last_login_at = now - timedelta(days=days)
        record_event(
            session,
            event_type="demo.weakness_planted",
            outcome="success",
            resource=f"iam/users/{user.id}",
            details={"weakness": what, "last_login_days_ago": days},
        )
        created.append(f"weakness:{email}")
    return created, unchanged


@app.command("seed")
def seed(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="The demo shop document (default: the shipped one)."),
    ] = DEMO_FILE,
    json_output: bool = JsonOption,
) -> None:
    """Create the demo shop: users, roles, clients, policy, consent purposes, tokenized cards,
    weaknesses, consent decisions; then personalise only the consenting customers."""
    show = not json_output
    with cli_errors():
        from cli.apply_document import load_document
        from cli.apply_plan import execute
        from cli.demo_consent import seed_consent
        from core import context
        from core.database import unit_of_work
        from core.kms.provider import get_key_provider

        loaded = load_document(file)
        get_key_provider().ensure_keys()
        actor = _actor()
        token = context.set_current(context.ActingContext(actor=actor, origin="cli"))
        try:
            # One transaction: the shop, its cards and its weaknesses, all or nothing.
            with unit_of_work() as session:
                _progress(show, f"applying {file.name} (users, roles, clients, policy)")
                outcome = execute(session, loaded, actor=actor, generate_passwords=False)
                _progress(show, "tokenizing demo card numbers in the vault")
                cards_created, cards_unchanged = _tokenize_cards(session, actor)
                _progress(show, "planting deliberate weaknesses")
                weak_created, weak_unchanged = _plant_weaknesses(session)
                _progress(show, "recording demo consent; personalising the consenting customers")
                consents = seed_consent(session, actor)
        finally:
            context.reset(token)
    created = [c.label for c in outcome.changes if c.action == "create"]
    updated = [c.label for c in outcome.changes if c.action == "update"]
    unchanged = [c.label for c in outcome.changes if c.action == "unchanged"]
    result: dict[str, Any] = {
        "created": created + cards_created + weak_created + consents.decided,
        "updated": updated,
        "unchanged": unchanged + cards_unchanged + weak_unchanged + consents.unchanged,
        "counts": {
            "users": len(loaded.document.users),
            "clients": len(loaded.document.clients),
            "cards": len(DEMO_CARDS),
            "weaknesses": len(WEAKNESSES),
        },
        # Run on every seed: who the shop's personalisation and segmentation reached (by
        # account id) and how many they skipped for want of consent.
        "consent": {
            **consents.counts(),
            "personalised_subjects": consents.personalised,
            "segmented_subjects": consents.segmented,
        },
        "changed": bool(created or updated or cards_created or weak_created or consents.decided),
        # New client secrets are not printed: a demo has no use for them, and a log of the
        # seed must hold none. `rampart client rotate` gives one when needed.
        "clients_with_new_secret": sorted(outcome.client_secrets),
    }
    if json_output:
        print_json(result)
        return
    counts = consents.counts()
    consent_line = (
        f"personalised {counts['personalised']} customers, skipped "
        f"{counts['personalisation_skipped']} without consent; segmented "
        f"{counts['segmented']}, skipped {counts['segmentation_skipped']}\n"
    )
    if not result["changed"]:
        sys.stdout.write("demo shop already seeded: nothing changed\n" + consent_line)
        return
    sys.stdout.write(
        f"demo shop seeded: {len(result['created'])} created, {len(updated)} updated, "
        f"{len(result['unchanged'])} unchanged\n"
    )
    for _, _, what in WEAKNESSES:
        sys.stdout.write(f"  weakness: {what}\n")
    sys.stdout.write(consent_line)
    sys.stdout.write("next: rampart compliance run && rampart compliance status\n")
