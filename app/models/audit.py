"""Append-only audit log: who did what to which object, when.

Entries are written unsealed (seq and hash empty) on every path, including the one-statement
cancel; a single sealer (app.services.audit.seal) later gives them seq 1, 2, 3... in id order
and a hash covering each entry's canonical content and the previous entry's hash."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    # The sealer's work list: the entries not sealed yet, in id order.
    __table_args__ = (Index("ix_audit_entries_unsealed", "id",
                            postgresql_where=text("seq IS NULL"),
                            sqlite_where=text("seq IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # candidate / hr / system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    # Position in the hash chain (gap-free, assigned by the sealer); None until sealed.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
