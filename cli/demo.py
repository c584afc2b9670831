"""`rampart demo seed`: fill a fresh installation with a realistic demo shop, so a newcomer sees a
meaningful compliance posture at once.

The users, roles, clients and policy come from ``examples/demo-shop.yaml`` through the same code
path as ``rampart apply -f``. What a declarative document cannot express is then added through
the services: demo card numbers (the card networks' published test numbers) tokenized in the
vault, a few deliberate weaknesses the compliance checks detect, and the demo customers' consent
decisions, after which personalisation and segmentation run only for those who consent. Every
step is idempotent: a second run changes nothing and says so."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.demo_history import COLLECTOR, HISTORY_DAYS
from cli.demo_logins import AUDITOR, OFFICER
from cli.output import JsonOption, cli_errors, fail, print_json, stderr

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cli.apply_document import LoadedDocument
    from cli.apply_plan import ApplyOutcome
    from cli.demo_consent import ConsentRun
    from cli.demo_evidence import DemoEvidence
    from cli.demo_logins import DemoLogins
    from core.settings import Settings

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


@dataclass(slots=True)
class ShopSeed:
    """What the shop's transaction did (labels of what it created and left unchanged)."""

    outcome: ApplyOutcome
    cards: tuple[list[str], list[str]]
    weaknesses: tuple[list[str], list[str]]
    consents: ConsentRun
    logins: DemoLogins
    engagements: tuple[list[str], list[str]]

    @property
    def created(self) -> list[str]:
        return [
            *(c.label for c in self.outcome.changes if c.action == "create"),
            *self.cards[0],
            *self.weaknesses[0],
            *self.consents.decided,
            *self.logins.created,
            *self.engagements[0],
        ]

    @property
    def updated(self) -> list[str]:
        return [c.label for c in self.outcome.changes if c.action == "update"]

    @property
    def unchanged(self) -> list[str]:
        return [
            *(c.label for c in self.outcome.changes if c.action == "unchanged"),
            *self.cards[1],
            *self.weaknesses[1],
            *self.consents.unchanged,
            *self.logins.unchanged,
            *self.engagements[1],
        ]


def _seed_shop(loaded: LoadedDocument, settings: Settings, actor: str, show: bool) -> ShopSeed:
    """One transaction: the shop, its cards, weaknesses, consent and logins, all or nothing;
    the logins file takes its name only once the transaction has committed."""
    from cli.apply_plan import execute
    from cli.demo_consent import seed_consent
    from cli.demo_history import history_days
    from cli.demo_logins import open_auditor_engagement, provision_logins
    from core.clock import utcnow
    from core.database import unit_of_work

    logins: DemoLogins | None = None
    try:
        with unit_of_work() as session:
            _progress(show, f"applying {loaded.path.name} (users, roles, clients, policy)")
            outcome = execute(session, loaded, actor=actor, generate_passwords=False)
            _progress(show, "tokenizing demo card numbers in the vault")
            cards = _tokenize_cards(session, actor)
            _progress(show, "planting deliberate weaknesses")
            weaknesses = _plant_weaknesses(session)
            _progress(show, "recording demo consent; personalising the consenting customers")
            consents = seed_consent(session, actor)
            _progress(show, "giving the compliance officer and the auditor their logins")
            logins = provision_logins(session, settings)
            today = utcnow().date()
            engagements = open_auditor_engagement(session, history_days(today)[0], today, actor)
    except BaseException:
        if logins is not None:
            logins.discard()
        raise
    logins.publish()
    return ShopSeed(outcome, cards, weaknesses, consents, logins, engagements)


NoEvidenceOption = typer.Option(
    False,
    "--no-evidence",
    help="The shop only: no check run now and no demo history (run `rampart compliance run`).",
)


@app.command("seed")
def seed(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="The demo shop document (default: the shipped one)."),
    ] = DEMO_FILE,
    no_evidence: bool = NoEvidenceOption,
    json_output: bool = JsonOption,
) -> None:
    """Create the demo shop: users, roles, clients, policy, consent purposes, tokenized cards,
    weaknesses, consent decisions, the officer's and auditor's logins; then run the compliance
    checks now and record 90 days of labelled demo history, so the dashboard has a trend."""
    show = not json_output
    with cli_errors():
        from cli.apply_document import load_document
        from cli.demo_evidence import seed_evidence
        from cli.demo_history import has_history
        from core import context
        from core.database import unit_of_work
        from core.kms.provider import get_key_provider
        from core.settings import get_settings

        settings = get_settings()
        if settings.env == "production":
            fail("the demo shop is for trying Rampart out, not for RAMPART_ENV=production")
        loaded = load_document(file)
        get_key_provider().ensure_keys()
        actor = _actor()
        evidence: DemoEvidence | None = None
        token = context.set_current(context.ActingContext(actor=actor, origin="cli"))
        try:
            shop = _seed_shop(loaded, settings, actor, show)
            if not no_evidence:
                # Once: the demo history is the mark of a seed whose evidence is complete.
                with unit_of_work(read_only=True) as session:
                    recorded = has_history(session)
                if not recorded:
                    evidence = seed_evidence(settings, actor, lambda line: _progress(show, line))
        finally:
            context.reset(token)
    _report(settings, loaded, shop, evidence, no_evidence, json_output)


def _report(
    settings: Settings,
    loaded: LoadedDocument,
    shop: ShopSeed,
    evidence: DemoEvidence | None,
    evidence_skipped: bool,
    json_output: bool,
) -> None:
    created, updated, unchanged = shop.created, shop.updated, shop.unchanged
    consents = shop.consents
    evidence_json: dict[str, Any] | None = None
    if evidence is not None:
        evidence_json = {
            "checks_run": len(evidence.results),
            "statuses": evidence.statuses(),
            "server": evidence.server,
            "history_records": evidence.history_records,
            "history_days": HISTORY_DAYS,
            "history_collector": COLLECTOR,
        }
    login_url = settings.issuer.rstrip("/") + "/login?next=/dashboard"
    result: dict[str, Any] = {
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
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
        # Where the officer's and auditor's passwords and TOTP secrets are: never here.
        "logins": {
            "file": str(shop.logins.path),
            "compliance_officer": OFFICER,
            "auditor": AUDITOR,
            "login_url": login_url,
        },
        "evidence": evidence_json,
        "evidence_skipped": (
            None if evidence is not None else "--no-evidence" if evidence_skipped else "recorded"
        ),
        "changed": bool(created or updated or evidence is not None),
        # New client secrets are not printed: a demo has no use for them, and a log of the
        # seed must hold none. `rampart client rotate` gives one when needed.
        "clients_with_new_secret": sorted(shop.outcome.client_secrets),
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
    logins_line = (
        f"demo logins ({OFFICER}, compliance officer; {AUDITOR}, auditor): passwords and TOTP "
        f"secrets in {shop.logins.path} (mode 0600)\n"
    )
    if not result["changed"]:
        sys.stdout.write("demo shop already seeded: nothing changed\n" + consent_line + logins_line)
        return
    sys.stdout.write(
        f"demo shop seeded: {len(created)} created, {len(updated)} updated, "
        f"{len(unchanged)} unchanged\n"
    )
    for _, _, what in WEAKNESSES:
        sys.stdout.write(f"  weakness: {what}\n")
    sys.stdout.write(consent_line)
    if evidence is not None:
        shown = ", ".join(f"{n} {status}" for status, n in evidence.statuses().items())
        sys.stdout.write(
            f"evidence: {len(evidence.results)} checks run now ({shown}); "
            f"{evidence.history_records} records of demo history over {HISTORY_DAYS} days\n"
        )
    sys.stdout.write(logins_line)
    start = "rampart serve & rampart compliance run" if evidence_skipped else "rampart serve"
    sys.stdout.write(f"next: {start}, then log in at {login_url} as {OFFICER}\n")


@app.command("code")
def code(
    email: Annotated[
        str, typer.Argument(help="A demo login (default: the compliance officer).")
    ] = OFFICER,
    json_output: bool = JsonOption,
) -> None:
    """The current TOTP code of a demo login, from the seed's logins file: for trying the
    dashboard without an authenticator app (the app is what a real login uses)."""
    with cli_errors():
        import json

        import pyotp

        from cli.demo_logins import logins_path
        from core.settings import get_settings

        path = logins_path(get_settings())
        if not path.is_file():
            fail(f"no {path}: run `rampart demo seed` first")
        logins = {entry.get("email"): entry for entry in json.loads(path.read_text())["logins"]}
        if email not in logins:
            fail(f"{email} is not a demo login of {path} ({', '.join(sorted(logins))})")
        totp = pyotp.TOTP(str(logins[email]["totp_secret"]))
        now = time.time()  # one reading: the code and its remaining time agree
        code = totp.at(now)
        seconds = math.ceil(totp.interval - now % totp.interval)  # 1..30, never 0
    if json_output:
        print_json({"email": email, "code": code, "valid_for_seconds": seconds})
        return
    sys.stdout.write(f"{code}  ({email}, for {seconds} more seconds; each code works once)\n")
