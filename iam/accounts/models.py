"""Tables of accounts: users, roles and their assignment, password history, login throttles."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7

USER_STATUSES = ("active", "disabled")


class User(Base):
    """A person who logs in: a customer or a member of staff."""

    __tablename__ = "iam_users"
    __table_args__ = (CheckConstraint("status IN ('active', 'disabled')", name="status_known"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # Stored lower-cased: the unique index then makes emails case-insensitively unique.
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    # Load explicitly (service.get_user does); lazy="raise" keeps N+1 queries out.
    role_rows: Mapped[list[Role]] = relationship(secondary="iam_user_roles", lazy="raise")

    @property
    def roles(self) -> list[str]:
        return sorted(role.name for role in self.role_rows)

    def __repr__(self) -> str:
        return f"User(id={self.id}, status={self.status!r})"


class Role(Base):
    """A named role; ``requires_mfa`` makes login demand a second factor from its members."""

    __tablename__ = "iam_roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(500))
    requires_mfa: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class UserRole(Base):
    __tablename__ = "iam_user_roles"

    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), primary_key=True
    )
    role_name: Mapped[str] = mapped_column(
        String(64), ForeignKey("iam_roles.name", ondelete="CASCADE"), primary_key=True
    )


class PasswordHistory(Base):
    """The hashes of a user's last passwords (current included), so none of the last 4 returns."""

    __tablename__ = "iam_password_history"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class LoginThrottle(Base):
    """Failures per key in the current window, blocked until a time (iam.accounts.throttling):
    failed logins per source (``ip:<address>``), wrong device user codes per account."""

    __tablename__ = "iam_login_throttles"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
