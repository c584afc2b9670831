"""The demo shop's consent: some demo customers grant, one withdraws, one never decides; then the
shop's personalisation and segmentation run for the customers who consent to their purpose and
skip every other (consent.has_consent: never decided, withdrawn or restricted under Art. 18 all
answer no). Both steps compute in memory; nothing of them is stored."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

PERSONALISATION = "personalize"
SEGMENTATION = "marketing.advertising"
SOURCE = "demo-seed"
# (customer e-mail, [(purpose, granted)] in the order decided).
DEMO_DECISIONS: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...] = (
    ("jean.dupont@customers.demo-shop.example", ((PERSONALISATION, True), (SEGMENTATION, True))),
    (
        "maria.rossi@customers.demo-shop.example",
        ((PERSONALISATION, True), (SEGMENTATION, True), (PERSONALISATION, False)),
    ),
    ("li.wei@customers.demo-shop.example", ()),  # never asked: no consent
)


@dataclass(slots=True)
class ConsentRun:
    decided: list[str] = field(default_factory=list)  # labels of decisions recorded now
    unchanged: list[str] = field(default_factory=list)
    personalised: list[str] = field(default_factory=list)  # account ids (the subjects)
    not_personalised: list[str] = field(default_factory=list)
    segmented: list[str] = field(default_factory=list)
    not_segmented: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "personalised": len(self.personalised),
            "personalisation_skipped": len(self.not_personalised),
            "segmented": len(self.segmented),
            "segmentation_skipped": len(self.not_segmented),
        }


def _customers(session: Session) -> list[tuple[str, str]]:
    """(e-mail, subject) of each demo customer; the subject is the account id."""
    from core.errors import ValidationFailed
    from iam.accounts.service import get_user_by_email

    found: list[tuple[str, str]] = []
    for email, _ in DEMO_DECISIONS:
        user = get_user_by_email(session, email)
        if user is None:
            raise ValidationFailed(f"demo customer {email} is missing from the demo document")
        found.append((email, str(user.id)))
    return found


def _record_decisions(session: Session, run: ConsentRun, actor: str) -> None:
    """Each customer's decisions once: a customer with any decision on record is left alone."""
    from compliance.gdpr import consent

    versions = {p.key: p.notice_version for p in consent.consent_purposes(session)}
    for (email, decisions), (_, subject) in zip(DEMO_DECISIONS, _customers(session), strict=True):
        label = f"consent:{email}"
        if not decisions:
            continue
        if consent.history_of(session, subject):
            run.unchanged.append(label)
            continue
        for purpose, granted in decisions:
            decide = consent.grant_consent if granted else consent.withdraw_consent
            decide(
                session,
                subject=subject,
                purpose=purpose,
                source=SOURCE,
                notice_version=versions[purpose],
                actor=actor,
            )
        run.decided.append(label)


def run_consented_processing(session: Session, run: ConsentRun) -> None:
    """The shop's two profiling steps, each only for the customers who consent to it now."""
    from compliance.gdpr import consent

    for _, subject in _customers(session):
        if consent.has_consent(session, subject, PERSONALISATION):
            run.personalised.append(subject)
        else:
            run.not_personalised.append(subject)
        if consent.has_consent(session, subject, SEGMENTATION):
            run.segmented.append(subject)
        else:
            run.not_segmented.append(subject)


def seed_consent(session: Session, actor: str) -> ConsentRun:
    run = ConsentRun()
    _record_decisions(session, run, actor)
    run_consented_processing(session, run)
    return run
