"""Tables of access reviews (PCI DSS 7.2.4): a review generated from the live policy and role
assignments, and its items, each decided ``keep`` or ``revoke`` by a reviewer."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7

DECISIONS = ("keep", "revoke")


class AccessReview(Base):
    """One review: what it covers (scope), on which policy version, who reviews, its sign-off."""

    __tablename__ = "compliance_reviews"
    __table_args__ = (Index("ix_compliance_reviews_signed_off_at", "signed_off_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    control_id: Mapped[str] = mapped_column(String(200), nullable=False)
    scope_object: Mapped[str | None] = mapped_column(String(500), nullable=True)
    scope_action: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reviewer: Mapped[str] = mapped_column(String(255), nullable=False)
    """Who decides the items by default: ``role:<name>`` (any holder) or ``user:<sub>``."""
    policy_version: Mapped[int] = mapped_column(Integer, nullable=False)
    """The policy store version the items were generated from."""
    opened_by: Mapped[str] = mapped_column(String(255), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    signed_off_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    evidence_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    """The signed evidence record of the sign-off (compliance_evidence.id)."""

    @property
    def status(self) -> str:
        return "open" if self.signed_off_at is None else "signed-off"


class AccessReviewItem(Base):
    """Who can do what on which object, how it is granted, and the reviewer's decision."""

    __tablename__ = "compliance_review_items"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    review_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("compliance_reviews.id"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    """``user:<sub>`` or ``client:<client_id>``."""
    subject_label: Mapped[str] = mapped_column(String(320), nullable=False)
    domain: Mapped[str] = mapped_column(String(255), nullable=False)
    """The tenant the permission holds in (``*``: every tenant)."""
    object: Mapped[str] = mapped_column(String(500), nullable=False)
    action: Mapped[str] = mapped_column(String(500), nullable=False)
    condition: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    rule: Mapped[str] = mapped_column(Text, nullable=False)
    """The allow line that grants it, as stored in the policy."""
    granted_by: Mapped[str] = mapped_column(String(500), nullable=False)
    """``direct`` or the role path, e.g. ``role:clerk`` or ``account role clerk``."""
    denied_when: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    """JSON list of the conditions of deny rules that take it away at times (``zone=public``)."""
    revoke_lines: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    """JSON list of the policy lines whose removal revokes it."""
    revoke_account_roles: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    """JSON list of account roles (iam_user_roles) whose removal revokes it."""
    reviewer: Mapped[str] = mapped_column(String(255), nullable=False)
    decision: Mapped[str | None] = mapped_column(String(10), nullable=True)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_in_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The policy version that applied the revocation (None for a role-assignment revocation)."""
