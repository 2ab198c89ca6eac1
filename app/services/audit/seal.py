"""Sealing the audit log into a hash chain.

Every path writes entries unsealed (seq and hash empty), so the one-statement cancel stays
one statement and writers never contend for a chain head. One sealer at a time (the
`audit_seal` job, under the scheduler's Redis lock; on PostgreSQL the head row is also
locked FOR UPDATE, and the unique seq makes a second sealer fail instead of forking the
chain) gives the unsealed entries the next seq numbers in id order and

    hash(n) = sha256(hash(n-1) + "\n" + canonical(entry n))      hash(0) = "0" * 64

where canonical() covers every column of the entry plus its id and seq. An entry whose id
is lower than one already sealed (its transaction committed late) is simply sealed later:
the chain's order is seq, which only the sealer assigns.

The head (last sealed seq and hash) is also kept in the settings row "audit_head", updated
in the same transaction as the entries it seals. The sealer continues from that head, not
from the table: had someone deleted the last sealed entries, continuing from the table
would hand their seq numbers to new entries and hide the deletion; continuing from the
head leaves a gap that `verify` reports.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, Setting

log = logging.getLogger(__name__)

GENESIS = "0" * 64
BATCH = 2000
HEAD_KEY = "audit_head"
ENTRIES = AuditEntry.__table__


class HeadMissing(RuntimeError):
    """Sealed entries exist but the head record is gone: sealing stops until verified."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    recorded: bool    # False: no head record (nothing sealed yet, or it was deleted)


def canonical(entry: AuditEntry | dict) -> str:
    """The entry's content as one deterministic string (what its hash covers)."""
    get = entry.get if isinstance(entry, dict) else lambda k: getattr(entry, k)
    at = get("at")
    return json.dumps({
        "seq": get("seq"), "id": get("id"),
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if at else None,
        "actor_type": get("actor_type"), "actor_id": get("actor_id"),
        "action": get("action"), "object_type": get("object_type"),
        "object_id": get("object_id"), "data": get("data") or {}, "ip": get("ip"),
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(previous: str, entry: AuditEntry | dict) -> str:
    return hashlib.sha256((previous + "\n" + canonical(entry)).encode("utf-8")).hexdigest()


def recorded_head(*, for_update: bool = False) -> Head:
    """The head as the sealer recorded it (settings "audit_head"), or genesis."""
    statement = select(Setting.value).where(Setting.key == HEAD_KEY)
    if for_update:
        statement = statement.with_for_update()
    value = db.session.scalar(statement)
    if not value:
        return Head(0, GENESIS, False)
    return Head(int(value["seq"]), str(value["hash"]), True)


def table_head() -> tuple[int, str] | None:
    """The sealed entry with the highest seq in the table, as (seq, hash)."""
    row = db.session.execute(select(AuditEntry.seq, AuditEntry.hash)
                             .where(AuditEntry.seq.is_not(None))
                             .order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else None


def head() -> tuple[int, str]:
    """The last sealed (seq, hash), or (0, GENESIS) when nothing is sealed yet."""
    found = recorded_head()
    return found.seq, found.hash


def seal_pending(now: datetime | None = None, *, batch: int = BATCH) -> int:
    """Seal every unsealed entry in id order (in batches, one transaction each), extending
    the chain from the recorded head; returns how many were sealed."""
    now = now or utcnow()
    sealed = 0
    try:
        while True:
            done = _seal_batch(now, batch)
            sealed += done
            if done < batch:
                return sealed
    except HeadMissing:
        db.session.rollback()
        log.error("audit chain head record %r is missing while sealed entries exist; not "
                  "sealing (run `flask audit verify`)", HEAD_KEY)
        return sealed
    except Exception:
        db.session.rollback()  # e.g. a second sealer took the same seq numbers first
        raise


def _seal_batch(now: datetime, batch: int) -> int:
    current = recorded_head(for_update=True)
    if not current.recorded and table_head() is not None:
        raise HeadMissing()
    entries = db.session.execute(select(ENTRIES).where(ENTRIES.c.seq.is_(None))
                                 .order_by(ENTRIES.c.id).limit(batch)).mappings().all()
    if not entries:
        db.session.rollback()
        return 0
    seq, previous = current.seq, current.hash
    rows = []
    for entry in entries:
        seq += 1
        previous = chain_hash(previous, {**entry, "seq": seq})
        rows.append({"entry_id": entry["id"], "seq": seq, "hash": previous, "sealed_at": now})
    db.session.execute(
        update(ENTRIES)
        .where(ENTRIES.c.id == db.bindparam("entry_id"), ENTRIES.c.seq.is_(None))
        .values(seq=db.bindparam("seq"), hash=db.bindparam("hash"),
                sealed_at=db.bindparam("sealed_at")),
        rows)
    value = {"seq": seq, "hash": previous, "sealed_at": now.astimezone(UTC).isoformat()}
    stored = db.session.get(Setting, HEAD_KEY)
    if stored is None:
        db.session.add(Setting(key=HEAD_KEY, value=value, updated_at=now))
    else:
        stored.value = value
        stored.updated_at = now
    db.session.commit()
    db.session.expire_all()
    return len(rows)


def restore_head() -> Head:
    """Record the head again after the settings row was lost: only when the chain itself
    verifies up to its last sealed entry (anything else is evidence to keep, not to
    paper over). The restoring is itself an audit entry."""
    from app.services.audit.record import record
    from app.services.audit.verify import verify_chain

    report = verify_chain()
    if report.ok:
        return recorded_head()
    if report.problem.kind != "head" or report.problem.seq is not None:
        raise ValueError(f"the chain does not verify: {report.problem.describe()}")
    end = table_head()
    seq, digest = end
    now = utcnow()
    db.session.add(Setting(key=HEAD_KEY, value={"seq": seq, "hash": digest,
                                                "sealed_at": now.isoformat()},
                           updated_at=now))
    record(actor_type="system", actor_id=None, action="audit.head_restored",
           object_type="audit_log", object_id=None,
           data={"rule": "audit_head_restore", "before": None,
                 "after": {"seq": seq, "hash": digest}})
    db.session.commit()
    return Head(seq, digest, True)
