"""Tables of the audit ledger: the entries, the single chain-head row, the signed checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, UTCDateTime

OUTCOMES = ("success", "failure", "denied", "error")
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """One event (PCI DSS 10.2.2: who, what, when, outcome, origin, resource), chained by hash."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('success', 'failure', 'denied', 'error')", name="outcome_known"
        ),
        Index("ix_audit_entries_occurred_at", "occurred_at"),
        Index("ix_audit_entries_request_id", "request_id"),
    )

    # Assigned from the chain head under its lock, never by the database: 1, 2, 3 ... without gaps.
    # On SQLite an INTEGER key is the rowid: verification then scans the table in key order.
    seq: Mapped[int] = mapped_column(SEQ_TYPE, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    origin: Mapped[str | None] = mapped_column(String(255))
    resource: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(100))
    # Canonical JSON text exactly as hashed (sorted keys, no whitespace), never re-serialized.
    details: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditChainHead(Base):
    """The single row holding the last sequence number and hash; appenders lock it in turn."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditCheckpoint(Base):
    """An Ed25519 signature over the chain hash at ``seq``: tampering before it needs the key."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # SHA-256 (hex) of the raw public key, to pick the trusted key after rotations.
    key_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
