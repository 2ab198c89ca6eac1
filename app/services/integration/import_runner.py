"""确认导入 runs in the worker, not in the request: the request only queues the job
(app.services.integration.imports.queue_import); a worker claims it and commits the stored
file in chunks of CHUNK_ROWS rows, each chunk its own transaction, through the same upserts
as the dry run. The console's job page shows the rows done until the result. The dry run
of a long file (more than imports.INLINE_CHECK_ROWS rows) is the worker's too: a job
`checking`, run by imports.check_rows in one transaction rolled back, under a lease of
imports.CHECK_LEASE_SECONDS (not renewed: nothing of a dry run is committed before its
end; a check that outlives it finds the job taken over and records nothing).

Claiming: queued jobs, and running jobs whose claim is free (released by a stopping
worker) or whose lease ran out (a dead worker), oldest first; read with FOR UPDATE SKIP
LOCKED on PostgreSQL, and taken by an UPDATE that repeats the condition, so on SQLite too
(which ignores FOR UPDATE and runs one writer at a time) two workers never both get it.

Traps:
- Each chunk's progress (rows_done, the external ids written, the new candidates'
  invitations) is committed in the chunk's own transaction, by an UPDATE guarded by the
  claim and by the rows_done the chunk started from (a compare-and-set): a worker whose
  lease ran out and whose job was taken over loses the guard and rolls its chunk back, so
  no chunk is committed twice, and a restart resumes exactly after the last chunk
  committed. Rows are also found by external id, so even a chunk run again adds nothing.
- The lease is renewed by every chunk: a chunk must stay well within LEASE_SECONDS
  (100 rows take about half a second idle, a few seconds under load).
- A chunk with a row that fails now (the data changed since the dry run) is rolled back
  whole and the job stops `failed` there: the rows before it stay imported, and the fixed
  file uploaded again finds them unchanged. A chunk that crashes (an unexpected error)
  keeps the claim until the lease runs out, then any worker retries from that chunk.
- The worker acts as the user who confirmed, with that user's permissions and scope as
  they are when the chunk runs (a disabled user's import fails), and from the address the
  job was queued from (its import.queued audit entry).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.core.errors import AppError
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, HrUser, ImportJob
from app.services import audit
from app.services.integration import imports
from app.services.integration.upsert import KINDS
from app.services.users.actor import Actor

log = logging.getLogger(__name__)

CHUNK_ROWS = 100
LEASE_SECONDS = 120
WAITING = ("checking", "queued", "running")


def _claimable(now: datetime):
    return (ImportJob.status.in_(WAITING),
            or_(ImportJob.claimed_by.is_(None), ImportJob.lease_until < now))


def claim_next(worker_id: str, now: datetime | None = None) -> int | None:
    """Take the oldest job waiting for a worker (or left by a dead one): its id, or None."""
    now = now or utcnow()
    try:
        job_id = db.session.scalar(select(ImportJob.id).where(*_claimable(now))
                                   .order_by(ImportJob.id).limit(1)
                                   .with_for_update(skip_locked=True))
        if job_id is None:
            db.session.rollback()
            return None
        checking = ImportJob.status == "checking"
        taken = db.session.execute(
            update(ImportJob).where(ImportJob.id == job_id, *_claimable(now))
            .values(status=case((checking, "checking"), else_="running"),
                    claimed_by=worker_id, updated_at=now,
                    lease_until=case(
                        (checking, now + timedelta(seconds=imports.CHECK_LEASE_SECONDS)),
                        else_=now + timedelta(seconds=LEASE_SECONDS)))).rowcount
        db.session.commit()
    except OperationalError:  # SQLite: another worker is writing; try again next turn
        db.session.rollback()
        return None
    return job_id if taken == 1 else None


def run_due_imports(worker_id: str, stop: Callable[[], bool] | None = None) -> int:
    """Commit every import job waiting for a worker (the worker's turn); returns how many
    jobs this call ran (to the end or until `stop()`)."""
    ran = 0
    stop = stop or (lambda: False)
    while not stop():
        job_id = claim_next(worker_id)
        if job_id is None:
            break
        try:
            run(job_id, worker_id, stop=stop)
        except Exception:
            # The claim stays until its lease runs out; then a worker retries the chunk.
            log.exception("import job %s failed in a chunk; will resume after its lease",
                          job_id)
            db.session.rollback()
        ran += 1
    return ran


def _queued_from(job_id: int) -> str | None:
    return db.session.scalar(select(AuditEntry.ip).where(
        AuditEntry.object_type == "import_job", AuditEntry.object_id == job_id,
        AuditEntry.action == "import.queued").order_by(AuditEntry.id.desc()).limit(1))


def run(job_id: int, worker_id: str, *, stop: Callable[[], bool] | None = None) -> None:
    """Commit (or resume) a claimed job chunk by chunk, then record the result. `stop()`
    true: release the claim between chunks, the job still running, for any worker."""
    job = db.session.get(ImportJob, job_id, populate_existing=True)
    if job is None or job.status not in ("checking", "running") or job.claimed_by != worker_id:
        db.session.rollback()
        return
    user = db.session.get(HrUser, job.created_by) if job.created_by else None
    if user is None:
        return _fail(job_id, worker_id, [_error("import_forbidden", "导入人账号已不存在")])
    actor = Actor.hr(user).from_ip(_queued_from(job_id))
    content = imports.stored_content(job)
    if hashlib.sha256(content).hexdigest() != job.content_sha256:
        return _fail(job_id, worker_id, [_error("import_content_changed",
                                                "导入文件已损坏，请重新上传")])
    try:
        imports.require_import(actor)
        rows = imports.read_rows(job.filename, content)
    except AppError as exc:
        return _fail(job_id, worker_id, [_error(exc.code, exc.message)])
    if job.status == "checking":  # a long file's dry run (the request left it to us)
        imports.check_rows(job_id, rows, actor, worker_id)
        return
    offset = job.rows_done
    db.session.commit()
    while offset < len(rows):
        if stop is not None and stop():
            release(job_id, worker_id)
            return
        chunk = rows[offset:offset + CHUNK_ROWS]
        if not _run_chunk(job_id, worker_id, offset, chunk, actor):
            return
        offset += len(chunk)
    _finish(job_id, worker_id, actor, len(rows))


def _error(code: str, message: str) -> dict:
    return {"row": 0, "column": "", "code": code, "message": message}


def _mine(job_id: int, worker_id: str):
    return ImportJob.id == job_id, ImportJob.claimed_by == worker_id


def _run_chunk(job_id: int, worker_id: str, offset: int, chunk: list, actor: Actor) -> bool:
    """One transaction: the chunk's rows and the job's progress, or neither."""
    try:
        out = imports.run_rows(chunk, actor)
    except SQLAlchemyError:
        db.session.rollback()
        out = imports.RunOutcome()
        imports.database_error(out)
    if out.errors:
        db.session.rollback()
        _fail(job_id, worker_id, out.errors)
        return False
    job = db.session.get(ImportJob, job_id, populate_existing=True)
    summary = dict(job.summary or {})
    progress = summary.get("progress") or {}
    for name in ("created", "updated", "seen"):
        merged = progress.setdefault(name, {})
        for kind in KINDS:
            ids = set(merged.get(kind, [])) | {str(i) for i in getattr(out, name)[kind]}
            merged[kind] = sorted(ids)
    summary["progress"] = progress
    summary["invitation_rows"] = [*summary.get("invitation_rows", []),
                                  *(imports.sealed_invitation(i) for i in out.invitations)]
    now = utcnow()
    guarded = db.session.execute(
        update(ImportJob).where(*_mine(job_id, worker_id), ImportJob.rows_done == offset)
        .values(rows_done=offset + len(chunk), summary=summary, updated_at=now,
                lease_until=now + timedelta(seconds=LEASE_SECONDS))).rowcount
    if guarded != 1:  # the lease ran out and another worker took the job over
        db.session.rollback()
        log.warning("import job %s: claim lost before rows %s-%s; left to its new worker",
                    job_id, offset + 1, offset + len(chunk))
        return False
    db.session.commit()
    return True


def counts_of(progress: dict) -> dict:
    """新增 / 更新 / 未变化 per kind from the external ids the chunks recorded."""
    def ids(name, kind):
        return set((progress.get(name) or {}).get(kind, []))
    return {kind: {"created": len(ids("created", kind)),
                   "updated": len(ids("updated", kind) - ids("created", kind)),
                   "unchanged": len(ids("seen", kind) - ids("created", kind)
                                    - ids("updated", kind))}
            for kind in KINDS}


def _finish(job_id: int, worker_id: str, actor: Actor, rows: int) -> None:
    job = db.session.get(ImportJob, job_id, populate_existing=True)
    summary = dict(job.summary or {})
    counts = counts_of(summary.pop("progress", {}))
    invitations = len(summary.get("invitation_rows", []))
    summary.update(counts=counts, invitations=invitations)
    now = utcnow()
    done = db.session.execute(
        update(ImportJob).where(*_mine(job_id, worker_id), ImportJob.status == "running")
        .values(status="committed", committed_at=now, summary=summary, claimed_by=None,
                lease_until=None, updated_at=now)).rowcount
    if done != 1:
        db.session.rollback()
        return
    audit.record(actor_type=actor.type, actor_id=actor.id, action="import.committed",
                 object_type="import_job", object_id=job_id, ip=actor.ip,
                 data={"filename": job.filename, "rows": rows, "counts": counts,
                       "invitations": invitations})
    db.session.commit()


def _fail(job_id: int, worker_id: str, errors: list[dict]) -> None:
    """Stop the job `failed` with these errors (the chunks before stay committed)."""
    job = db.session.get(ImportJob, job_id, populate_existing=True)
    summary = dict(job.summary or {})
    progress = summary.pop("progress", {})
    summary.update(error_count=len(errors), committed_counts=counts_of(progress))
    now = utcnow()
    done = db.session.execute(
        update(ImportJob).where(*_mine(job_id, worker_id),
                                ImportJob.status.in_(("checking", "running")))
        .values(status="failed", errors=errors[:imports.MAX_ERRORS_SHOWN], summary=summary,
                claimed_by=None, lease_until=None, updated_at=now)).rowcount
    if done != 1:
        db.session.rollback()
        return
    audit.record(actor_type="hr", actor_id=job.created_by, action="import.failed",
                 object_type="import_job", object_id=job_id, ip=_queued_from(job_id),
                 data={"errors": len(errors), "rows_done": job.rows_done})
    db.session.commit()


def release(job_id: int, worker_id: str) -> None:
    """Give the claim back (a stopping worker): any worker resumes the job at once."""
    db.session.execute(update(ImportJob).where(*_mine(job_id, worker_id))
                       .values(claimed_by=None, lease_until=None))
    db.session.commit()


__all__ = ["CHUNK_ROWS", "LEASE_SECONDS", "claim_next", "run", "run_due_imports",
           "release", "counts_of"]
