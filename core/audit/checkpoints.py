"""Signed checkpoints: every ``every_n`` entries, and at the head once ``every_seconds`` pass.

Run after appends and by a periodic job; it re-verifies the entries since the last checkpoint
before signing, so a tampered chain is never blessed with a fresh signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import repository
from core.audit.canonical import GENESIS_HASH
from core.audit.exceptions import AuditChainBroken
from core.audit.models import AuditCheckpoint, AuditEntry
from core.audit.signing import Signer, checkpoint_message, key_fingerprint
from core.audit.verification import verify_segment
from core.clock import utcnow


def write_checkpoint_if_due(
    session: Session,
    signer: Signer,
    every_n: int,
    every_seconds: float,
    *,
    now: datetime | None = None,
) -> list[AuditCheckpoint]:
    """Sign the checkpoints that are due (possibly none) in the caller's transaction.

    Due: each multiple of ``every_n`` past the last checkpoint, and the head itself when the
    last checkpoint (or the first entry) is ``every_seconds`` old. Raises AuditChainBroken,
    signing nothing, when the entries since the last checkpoint do not verify.
    """
    if every_n < 1:
        raise ValueError("every_n must be at least 1")
    now = now or utcnow()
    # The head lock makes concurrent checkpoint writers take turns (no duplicate signing).
    head_seq, _ = repository.lock_chain_head(session)
    last = repository.last_checkpoint(session)
    last_seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    if head_seq <= last_seq:
        return []
    due = list(range(last_seq - last_seq % every_n + every_n, head_seq + 1, every_n))
    if not due or due[-1] != head_seq:
        since = last.signed_at if last else _first_entry_time(session)
        if since is None or now - since >= timedelta(seconds=every_seconds):
            due.append(head_seq)
    if not due:
        return []
    problem = verify_segment(session, after_seq=last_seq, after_hash=last_hash, through_seq=due[-1])
    if problem:
        raise AuditChainBroken(f"refusing to sign an audit checkpoint: {problem}")
    public_key = signer.public_signing_key()
    fingerprint = key_fingerprint(public_key)
    hashes = repository.entry_hashes_at(session, due)
    checkpoints = [
        AuditCheckpoint(
            seq=seq,
            hash=hashes[seq],
            signed_at=now,
            signature=signer.sign(checkpoint_message(seq, hashes[seq])),
            key_fingerprint=fingerprint,
        )
        for seq in due
    ]
    session.add_all(checkpoints)
    session.flush()
    return checkpoints


def _first_entry_time(session: Session) -> datetime | None:
    return session.scalar(select(AuditEntry.occurred_at).where(AuditEntry.seq == 1))
