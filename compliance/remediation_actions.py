"""The remediations a control may name (``remediation.action`` in the library): each reads the
state it would fix and, when there is work, does it through the service or job that already owns
that work (account housekeeping, KMS rotation, the vault purge). States hold ids, versions and
counts only, never a secret: they go to the ledger as the before/after of the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from compliance.checks.iam import PCI_MAX_INACTIVE_DAYS
from compliance.checks.kms import KEK_CRYPTOPERIOD_DAYS
from core.settings import Settings

State = dict[str, Any]


@dataclass(frozen=True)
class RemediationAction:
    id: str
    title: str
    state: Callable[[Session, Settings, datetime], State]
    """What the action would fix, as it stands now."""
    needed: Callable[[State], bool]
    """Whether ``state`` leaves work to do: False makes a run a no-op (idempotence)."""
    apply: Callable[[Session, Settings, datetime], State]
    """Do the work in the caller's transaction (flush, never commit); returns what it did."""


ACTIONS: dict[str, RemediationAction] = {}


def _register(action: RemediationAction) -> RemediationAction:
    ACTIONS[action.id] = action
    return action


def _inactive_days(settings: Settings) -> int:
    return min(settings.inactive_account_days, PCI_MAX_INACTIVE_DAYS)


def _inactive_state(session: Session, settings: Settings, now: datetime) -> State:
    from iam.accounts import repository

    days = _inactive_days(settings)
    stale = repository.inactive_users(
        session, last_activity_before=now - timedelta(days=days), limit=1000
    )
    return {"inactive_accounts": sorted(str(user.id) for user in stale), "days": days}


def _disable_inactive(session: Session, settings: Settings, now: datetime) -> State:
    from iam.accounts.jobs import DisableInactiveArgs, disable_inactive_accounts

    done = disable_inactive_accounts(session, DisableInactiveArgs(days=_inactive_days(settings)))
    return dict(done or {})


_register(
    RemediationAction(
        id="iam.disable_inactive_accounts",
        title="Disable accounts unused for more than 90 days (PCI DSS 8.2.6)",
        state=_inactive_state,
        needed=lambda state: bool(state["inactive_accounts"]),
        apply=_disable_inactive,
    )
)


def _kek_state(session: Session, settings: Settings, now: datetime) -> State:
    from core.kms.provider import get_key_provider
    from core.kms.service import count_data_keys_to_rewrap

    info = get_key_provider().info()
    created = datetime.fromisoformat(info.created_at) if info.created_at else None
    return {
        "provider": info.provider,
        "latest_version": info.latest_version,
        "age_days": (now - created).days if created else None,
        "data_keys_to_rewrap": count_data_keys_to_rewrap(session, info.latest_version),
    }


def _kek_past_cryptoperiod(state: State) -> bool:
    return state["age_days"] is None or state["age_days"] > KEK_CRYPTOPERIOD_DAYS


def _rotate_kek(session: Session, settings: Settings, now: datetime) -> State:
    """Rotate when past the cryptoperiod, then rewrap every live data key under the newest
    version. The KMS keeps a new version if the transaction rolls back afterwards; that is
    harmless (older versions still unwrap) and the next run rewraps."""
    from core.kms.service import rewrap_data_keys, rotate_key_encryption_key

    rotated_to = None
    if _kek_past_cryptoperiod(_kek_state(session, settings, now)):
        rotated_to = rotate_key_encryption_key(session).latest_version
    return {"rotated_to_version": rotated_to, "rewrapped": rewrap_data_keys(session)}


_register(
    RemediationAction(
        id="kms.rotate_key_encryption_key",
        title="Rotate the key-encryption key past its cryptoperiod and rewrap the data keys",
        state=_kek_state,
        needed=lambda state: _kek_past_cryptoperiod(state) or state["data_keys_to_rewrap"] > 0,
        apply=_rotate_kek,
    )
)


def _expired_state(session: Session, settings: Settings, now: datetime) -> State:
    from vault.repository import count_expired

    return {"expired_tokens": count_expired(session, now, None)}


def _purge(session: Session, settings: Settings, now: datetime) -> State:
    from vault.jobs import PurgeArgs, purge_expired_tokens

    return dict(purge_expired_tokens(session, PurgeArgs()) or {})


_register(
    RemediationAction(
        id="vault.purge_expired_tokens",
        title="Purge tokens past their retention (and spent SAD keys) now",
        state=_expired_state,
        needed=lambda state: state["expired_tokens"] > 0,
        apply=_purge,
    )
)
