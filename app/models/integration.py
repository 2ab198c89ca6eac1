"""Links to the company's other systems: integration API keys and file imports."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin


class ApiKey(TimestampMixin, db.Model):
    """A key of /api/integration/v1. Only its SHA-256 is stored; the key is shown once.
    `prefix` (the first characters) lets people tell keys apart in lists and logs."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    # The departments whose data the key reaches (empty: every department).
    departments: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportJob(TimestampMixin, db.Model):
    """An uploaded CSV / XLSX file: validated (dry run) first, committed later from the
    same stored bytes, so what is committed is exactly what was checked."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # validated / invalid (dry run) -> queued (确认导入) -> running (a worker holds it)
    # -> committed / failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    # The worker's claim: a lease renewed with every chunk; a worker that dies stops
    # renewing it and another takes the job over once it has run out.
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Data rows committed so far (committed with each chunk: a restart resumes there).
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
