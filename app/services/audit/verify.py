"""Verifying the audit chain: walk the sealed entries in seq order (streamed in batches)
and name the first one that was altered, removed or reordered.

- altered: the entry's hash does not cover its content (any column edited, its hash too);
- removed: a seq number is missing (an entry in the middle deleted), or the chain ends
  before the head the sealer recorded (settings "audit_head": the last entries deleted);
- reordered: the entry's hash is right for another place in the chain (seq numbers
  swapped, or its predecessor is not the entry it was sealed after);
- head: the head record is missing, or does not match the chain's end (entries sealed
  beyond it, or the chain rewritten up to its end).

Unsealed entries (seq empty: written since the sealer last ran) are counted and reported
as such; they are not tampering. Each check compares against the stored hash of the
entry before, so an edit shows up at the entry edited, not at every entry after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.services.audit.seal import ENTRIES, GENESIS, chain_hash, recorded_head

BATCH = 1000
WINDOW = 64   # how far from its place a moved entry is looked for (on a mismatch only)


@dataclass(frozen=True)
class Problem:
    kind: str                 # altered / removed / reordered / head
    seq: int | None           # where in the chain
    entry_id: int | None      # the entry found there (None: nothing is there)
    detail: str

    def describe(self) -> str:
        where = f" at seq {self.seq}" if self.seq is not None else ""
        who = (f" (entry id {self.entry_id})"
               if self.entry_id is not None and self.kind != "removed" else "")
        return f"{self.kind}{where}{who}: {self.detail}"


@dataclass(frozen=True)
class Report:
    checked: int                      # sealed entries walked
    head_seq: int
    head_hash: str
    unsealed: int
    oldest_unsealed_id: int | None
    oldest_unsealed_at: datetime | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        pending = (f"; {self.unsealed} not sealed yet (oldest id {self.oldest_unsealed_id})"
                   if self.unsealed else "; none waiting to be sealed")
        if self.problem is None:
            return (f"audit chain intact: {self.checked} sealed entries, head seq "
                    f"{self.head_seq} hash {self.head_hash[:16]}{pending}")
        return f"audit chain BROKEN after {self.checked} good entries: " \
               f"{self.problem.describe()}{pending}"


def verify_chain(*, batch: int = BATCH) -> Report:
    """Walk the chain in seq order and report the first entry altered, removed or
    reordered (read only; memory bounded by `batch`)."""
    try:
        return _verify(batch)
    finally:
        db.session.rollback()


def _verify(batch: int) -> Report:
    checked, last_seq, last_hash, last_id = 0, 0, GENESIS, None
    problem = None
    while problem is None:
        rows = [dict(r) for r in db.session.execute(
            select(ENTRIES).where(ENTRIES.c.seq > last_seq)
            .order_by(ENTRIES.c.seq).limit(batch)).mappings()]
        if not rows:
            recorded = recorded_head()
            # A sealer may have committed while we walked: walk on to its new head.
            if recorded.seq > last_seq and _exists_after(last_seq):
                continue
            problem = _check_head(recorded, last_seq, last_hash, last_id, checked)
            break
        for row in rows:
            problem = _check(row, last_seq, last_hash, last_id)
            if problem is not None:
                break
            checked += 1
            last_seq, last_hash, last_id = row["seq"], row["hash"], row["id"]
    recorded = recorded_head()
    unsealed, oldest_id, oldest_at = db.session.execute(
        select(func.count(), func.min(ENTRIES.c.id), func.min(ENTRIES.c.at))
        .where(ENTRIES.c.seq.is_(None))).one()
    return Report(checked, recorded.seq, recorded.hash, unsealed, oldest_id, oldest_at,
                  problem)


def _exists_after(seq: int) -> bool:
    return db.session.scalar(select(ENTRIES.c.id).where(ENTRIES.c.seq > seq).limit(1)) \
        is not None


def _check(row, last_seq: int, last_hash: str, last_id: int | None) -> Problem | None:
    seq = row["seq"]
    if seq != last_seq + 1:
        missing = (f"seq {last_seq + 1}" if seq == last_seq + 2
                   else f"seq {last_seq + 1} to {seq - 1}")
        return Problem("removed", last_seq + 1, row["id"],
                       f"{missing} missing (entry deleted); next present is seq {seq}, "
                       f"entry id {row['id']}")
    if not row["hash"]:
        return Problem("altered", seq, row["id"], "sealed entry without a hash")
    if chain_hash(last_hash, row) == row["hash"]:
        return None
    return _diagnose(row, last_hash, last_id)


def _diagnose(row, expected_previous: str, last_id: int | None) -> Problem:
    """The hash does not fit here: is it right for another place (reordered) or for no
    place at all (altered)? Looked for among the entries near it."""
    seq = row["seq"]
    near = db.session.execute(select(ENTRIES.c.seq, ENTRIES.c.hash).where(
        ENTRIES.c.seq.between(seq - WINDOW - 1, seq + WINDOW))).all()
    previous_hashes = {GENESIS, *(h for _, h in near if h)}
    hint = (f"; its id is lower than the entry before it (id {last_id})"
            if last_id is not None and row["id"] < last_id else "")
    for place in range(max(1, seq - WINDOW), seq + WINDOW + 1):
        moved = {**row, "seq": place}
        for previous in previous_hashes:
            if chain_hash(previous, moved) != row["hash"]:
                continue
            if place != seq:
                return Problem("reordered", seq, row["id"],
                               f"sealed at seq {place}, now at seq {seq} (seq numbers "
                               f"swapped or changed){hint}")
            if previous != expected_previous:
                return Problem("reordered", seq, row["id"],
                               "previous hash mismatch: the entry before it is not the "
                               f"one it was sealed after{hint}")
    before = f" or the entry before it (seq {seq - 1}) was rewritten with a recomputed hash" \
        if seq > 1 else ""
    return Problem("altered", seq, row["id"],
                   f"hash mismatch: the entry's content was changed after sealing{before}")


def _check_head(recorded, last_seq: int, last_hash: str, last_id: int | None,
                checked: int) -> Problem | None:
    if not recorded.recorded:
        if checked == 0:
            return None   # nothing sealed yet
        return Problem("head", None, None, f"head record missing, though {checked} entries "
                       "are sealed (the settings row audit_head was deleted)")
    if recorded.seq > last_seq:
        missing = (f"seq {recorded.seq}" if recorded.seq == last_seq + 1
                   else f"seq {last_seq + 1} to {recorded.seq}")
        return Problem("removed", last_seq + 1, None,
                       f"{missing} missing at the end of the chain (the head records seq "
                       f"{recorded.seq}; the last entry present is seq {last_seq})")
    if recorded.seq < last_seq:
        return Problem("head", recorded.seq + 1, None,
                       f"entries up to seq {last_seq} are sealed beyond the recorded head "
                       f"(seq {recorded.seq}): added or re-sealed outside the sealer")
    if recorded.hash != last_hash:
        return Problem("head", last_seq, last_id,
                       "the last entry's hash differs from the recorded head (the chain "
                       "was rewritten)")
    return None
