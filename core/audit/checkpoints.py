"""Signed checkpoints: every ``every_n`` entries, and at the head once ``every_seconds`` pass.

Run by a periodic job and the CLI; the entries since the last checkpoint are re-verified before
signing, so a tampered chain is never blessed with a fresh signature.

The verification reads every entry since the last checkpoint (~5 ms per thousand here), and
signing holds the chain-head lock, which every audited write in every process waits for. So
:func:`sign_due_checkpoints` verifies first in a read-only snapshot (:func:`verify_unsigned`),
then takes the lock only to check that the last verified entry still holds the hash it verified
(its hash commits to every entry before it) and to sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.audit import repository
from core.audit.canonical import GENESIS_HASH
from core.audit.exceptions import AuditChainBroken
from core.audit.models import AuditCheckpoint, AuditEntry
from core.audit.signing import Signer, checkpoint_message, key_fingerprint
from core.audit.verification import verify_segment
from core.clock import utcnow
from core.database import unit_of_work


@dataclass(frozen=True, slots=True)
class VerifiedSegment:
    """Entries ``after_seq+1 .. through_seq`` verified to link on from the checkpoint at
    ``after_seq``; ``through_hash`` is the last one's hash."""

    after_seq: int
    through_seq: int
    through_hash: str
    # Signatures made outside the lock, by (seq, hash): used under it only for exactly those.
    signatures: Mapping[tuple[int, str], bytes] = field(default_factory=dict)


def verify_unsigned(session: Session) -> VerifiedSegment | None:
    """Verify the entries since the last checkpoint without the chain-head lock (run it in a
    read-only unit of work: a snapshot); None when there are none. Raises AuditChainBroken."""
    head = repository.read_chain_head(session)
    last = repository.last_checkpoint(session)
    last_seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    if head is None or head[0] <= last_seq:
        return None
    head_seq, head_hash = head
    problem = verify_segment(
        session, after_seq=last_seq, after_hash=last_hash, through_seq=head_seq
    )
    if problem:
        raise AuditChainBroken(f"refusing to sign an audit checkpoint: {problem}")
    if repository.entry_hashes_at(session, [head_seq]).get(head_seq) != head_hash:
        raise AuditChainBroken(
            f"refusing to sign an audit checkpoint: the chain head records another hash for "
            f"seq {head_seq}"
        )
    return VerifiedSegment(last_seq, head_seq, head_hash)


def sign_due_checkpoints(
    session: Session,
    signer: Signer,
    every_n: int,
    every_seconds: float,
    *,
    now: datetime | None = None,
) -> list[AuditCheckpoint]:
    """:func:`write_checkpoint_if_due` in ``session`` (which must not hold the chain-head lock
    yet), with the entries verified and the due checkpoints signed first, in a read-only
    snapshot of the same database: appenders wait for the lock only while they are stored (a
    KMS signature can be a network call)."""
    now = now or utcnow()
    snapshot = sessionmaker(bind=session.get_bind().execution_options(rampart_read_only=True))
    with unit_of_work(snapshot) as reading:
        verified = verify_unsigned(reading)
        if verified is None:
            return []
        last = repository.last_checkpoint(reading)
        due = _due(reading, last, verified.through_seq, every_n, every_seconds, now)
        hashes = repository.entry_hashes_at(reading, due)
    signatures = {
        (seq, hashes[seq]): signer.sign(checkpoint_message(seq, hashes[seq])) for seq in due
    }
    verified = replace(verified, signatures=signatures)
    return write_checkpoint_if_due(
        session, signer, every_n, every_seconds, now=now, verified=verified
    )


def write_checkpoint_if_due(
    session: Session,
    signer: Signer,
    every_n: int,
    every_seconds: float,
    *,
    now: datetime | None = None,
    verified: VerifiedSegment | None = None,
) -> list[AuditCheckpoint]:
    """Sign the checkpoints that are due (possibly none) in the caller's transaction.

    Due: each multiple of ``every_n`` past the last checkpoint, and the head itself when the
    last checkpoint (or the first entry) is ``every_seconds`` old. Raises AuditChainBroken,
    signing nothing, when the entries since the last checkpoint do not verify.

    With ``verified`` (from :func:`verify_unsigned`), nothing past it is signed and the entries
    are not read again under the lock: its last entry must still hold the hash it verified.
    """
    if every_n < 1:
        raise ValueError("every_n must be at least 1")
    now = now or utcnow()
    # The head lock makes concurrent checkpoint writers take turns (no duplicate signing).
    head_seq, _ = repository.lock_chain_head(session)
    last = repository.last_checkpoint(session)
    last_seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    if verified is not None and last_seq < verified.after_seq:
        verified = None  # a checkpoint vanished since: verify all again, under the lock
    if verified is not None:
        if last_seq >= verified.through_seq:
            return []  # another signer got there first
        stored = repository.entry_hashes_at(session, [verified.through_seq])
        if stored.get(verified.through_seq) != verified.through_hash:
            raise AuditChainBroken(
                f"refusing to sign an audit checkpoint: entry {verified.through_seq} changed "
                f"after it was verified"
            )
        head_seq = verified.through_seq
    if head_seq <= last_seq:
        return []
    due = _due(session, last, head_seq, every_n, every_seconds, now)
    if not due:
        return []
    if verified is None:
        problem = verify_segment(
            session, after_seq=last_seq, after_hash=last_hash, through_seq=due[-1]
        )
        if problem:
            raise AuditChainBroken(f"refusing to sign an audit checkpoint: {problem}")
    public_key = signer.public_signing_key()
    fingerprint = key_fingerprint(public_key)
    hashes = repository.entry_hashes_at(session, due)
    ready = verified.signatures if verified is not None else {}
    checkpoints = [
        AuditCheckpoint(
            seq=seq,
            hash=hashes[seq],
            signed_at=now,
            signature=ready.get((seq, hashes[seq]))
            or signer.sign(checkpoint_message(seq, hashes[seq])),
            key_fingerprint=fingerprint,
        )
        for seq in due
    ]
    session.add_all(checkpoints)
    session.flush()
    return checkpoints


def _due(
    session: Session,
    last: AuditCheckpoint | None,
    head_seq: int,
    every_n: int,
    every_seconds: float,
    now: datetime,
) -> list[int]:
    """Each multiple of ``every_n`` past the last checkpoint up to ``head_seq``, and
    ``head_seq`` itself once the last checkpoint (or the first entry) is ``every_seconds`` old."""
    last_seq = last.seq if last else 0
    due = list(range(last_seq - last_seq % every_n + every_n, head_seq + 1, every_n))
    if head_seq > last_seq and (not due or due[-1] != head_seq):
        since = last.signed_at if last else _first_entry_time(session)
        if since is None or now - since >= timedelta(seconds=every_seconds):
            due.append(head_seq)
    return due


def _first_entry_time(session: Session) -> datetime | None:
    return session.scalar(select(AuditEntry.occurred_at).where(AuditEntry.seq == 1))
