"""Sealing the audit log into a hash chain.

Every path writes entries unsealed (seq and hash empty), so the one-statement cancel stays
one statement and writers never contend for a chain head. One sealer at a time (the
`audit_seal` job, under the scheduler's Redis lock; the unique seq makes a second sealer
fail instead of forking the chain) gives the unsealed entries the next seq numbers in id
order and

    hash(n) = sha256(hash(n-1) + "\n" + canonical(entry n))      hash(0) = "0" * 64

where canonical() covers every column of the entry plus its id and seq. An entry whose id
is lower than one already sealed (its transaction committed late) is simply sealed later:
the chain's order is seq, which only the sealer assigns.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry

GENESIS = "0" * 64
BATCH = 2000


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


def head() -> tuple[int, str]:
    """The last sealed (seq, hash), or (0, GENESIS) when nothing is sealed yet."""
    row = db.session.execute(select(AuditEntry.seq, AuditEntry.hash)
                             .where(AuditEntry.seq.is_not(None))
                             .order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def seal_pending(now: datetime | None = None, *, batch: int = BATCH) -> int:
    """Seal every unsealed entry (in batches, one transaction each); returns how many."""
    now = now or utcnow()
    sealed = 0
    while True:
        seq, previous = head()
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.seq.is_(None))
                                     .order_by(AuditEntry.id).limit(batch)).all()
        if not entries:
            db.session.rollback()
            return sealed
        rows = []
        for entry in entries:
            seq += 1
            digest = chain_hash(previous, {**_columns(entry), "seq": seq})
            rows.append({"entry_id": entry.id, "seq": seq, "hash": digest, "sealed_at": now})
            previous = digest
        db.session.execute(
            update(AuditEntry.__table__)
            .where(AuditEntry.__table__.c.id == db.bindparam("entry_id"),
                   AuditEntry.__table__.c.seq.is_(None))
            .values(seq=db.bindparam("seq"), hash=db.bindparam("hash"),
                    sealed_at=db.bindparam("sealed_at")),
            rows)
        db.session.commit()
        db.session.expire_all()
        sealed += len(rows)
        if len(entries) < batch:
            return sealed


def _columns(entry: AuditEntry) -> dict:
    return {c: getattr(entry, c) for c in ("id", "at", "actor_type", "actor_id", "action",
                                          "object_type", "object_id", "data", "ip")}
