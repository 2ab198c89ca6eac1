"""Batch cancel (recruiting managers and admins): a whole session, a position, a date
range or ticked rows.

preview -> confirm -> run. The preview shows how many, by position and status, a sample
and the messages that will go, and is kept in Redis under a token; confirming the same
token twice makes one batch (the token is unique on the batch row). Running goes in
chunks of write.CHUNK interviews, each its own transaction: the chunk's rows are locked
when read, every row is decided by the same policy as a single cancel, rows that changed
since the preview are skipped and listed, and progress is committed with the chunk. Each
candidate gets their message; each staff member gets one summary when the batch ends.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from sqlalchemy import func, select, update

from app.core import collector, transaction
from app.core.errors import AppError, NotFound, ValidationFailed
from app.core.timeutil import SHANGHAI, cn_datetime, iso, utcnow
from app.extensions import db, redis_store
from app.models import (
    BatchStatus,
    CancelBatch,
    Cancellation,
    Interview,
    InterviewSession,
    Position,
)
from app.models.interview import ACTIVE_STATUSES
from app.services import audit, webhooks
from app.services.cancellation import facts as read
from app.services.cancellation import policy, write
from app.services.cancellation.commands import reschedule_deadline
from app.services.interviews.recipients import staff_of
from app.services.notifications import outbox
from app.services.rules import get_rules
from app.services.users.actor import Actor, interview_scope

PREVIEW_TTL_SECONDS = 1800
SAMPLE_SIZE = 10
INLINE_LIMIT = 200          # larger batches run in the worker
MAX_BATCH = 20000


class BatchEmpty(ValidationFailed):
    code = "batch_empty"
    message = "没有符合条件的可取消面试"


class BatchCriteriaRequired(ValidationFailed):
    code = "batch_criteria_required"
    message = "请选择场次、岗位、日期范围或勾选面试"


class BatchTooLarge(ValidationFailed):
    code = "batch_too_large"
    message = f"一次最多批量取消{MAX_BATCH}场面试，请缩小范围"


class PreviewExpired(ValidationFailed):
    status = 409
    code = "batch_preview_expired"
    message = "预览已过期，请重新预览后再确认"


class BatchNotFound(NotFound):
    code = "batch_not_found"
    message = "未找到该批量取消记录"


@dataclass(frozen=True)
class Criteria:
    session_id: int | None = None
    position_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    interview_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.session_id or self.position_id or self.date_from or self.date_to
                    or self.interview_ids)

    def as_json(self) -> dict:
        out = asdict(self)
        out["date_from"] = self.date_from.isoformat() if self.date_from else None
        out["date_to"] = self.date_to.isoformat() if self.date_to else None
        out["interview_ids"] = list(self.interview_ids)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Criteria:
        return cls(data.get("session_id"), data.get("position_id"),
                   date.fromisoformat(data["date_from"]) if data.get("date_from") else None,
                   date.fromisoformat(data["date_to"]) if data.get("date_to") else None,
                   tuple(data.get("interview_ids") or ()))


@dataclass
class Preview:
    token: str
    total: int
    by_position: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    sample: list[read.InterviewFacts]
    candidates_told: int
    staff_summaries: int
    reason: read.ReasonFacts
    note: str | None
    reschedule: bool
    scope_text: str
    criteria: Criteria
    skipped_pending: int = 0
    errors: list[str] = field(default_factory=list)


def _selection(actor: Actor, criteria: Criteria, now: datetime, *columns):
    """Active interviews in the actor's scope matching the criteria, not yet started."""
    stmt = (select(*(columns or (Interview.id,)))
            .select_from(Interview).join(Position, Position.id == Interview.position_id)
            .where(interview_scope(actor), Interview.status.in_(sorted(ACTIVE_STATUSES)),
                   Interview.scheduled_at > now))
    if criteria.session_id:
        stmt = stmt.where(Interview.session_id == criteria.session_id)
    if criteria.position_id:
        stmt = stmt.where(Interview.position_id == criteria.position_id)
    if criteria.date_from:
        stmt = stmt.where(Interview.scheduled_at >= datetime.combine(
            criteria.date_from, time(0), SHANGHAI))
    if criteria.date_to:
        stmt = stmt.where(Interview.scheduled_at < datetime.combine(
            criteria.date_to + timedelta(days=1), time(0), SHANGHAI))
    if criteria.interview_ids:
        stmt = stmt.where(Interview.public_id.in_(list(criteria.interview_ids)))
    return stmt.order_by(Interview.scheduled_at, Interview.id)


def scope_text(criteria: Criteria) -> str:
    """How the console and the summary name what was selected."""
    parts = []
    if criteria.session_id:
        session = db.session.get(InterviewSession, criteria.session_id)
        if session is not None:
            parts.append(session_label(session))
    if criteria.position_id:
        position = db.session.get(Position, criteria.position_id)
        if position is not None:
            parts.append(position.title)
    if criteria.date_from or criteria.date_to:
        parts.append(f"{criteria.date_from or '…'} 至 {criteria.date_to or '…'}")
    if criteria.interview_ids:
        parts.append(f"勾选的{len(criteria.interview_ids)}场面试")
    return "，".join(parts) or "所选面试"


def session_label(session: InterviewSession) -> str:
    """2024年3月15日 14:00-16:00"""
    start = session.starts_at.astimezone(SHANGHAI)
    end = session.ends_at.astimezone(SHANGHAI)
    return f"{start.year}年{start.month}月{start.day}日 {start:%H:%M}-{end:%H:%M}"


def _check(actor: Actor, reason_code: str | None, note: str | None, criteria: Criteria):
    if not actor.can("batch_cancel"):
        raise policy.PermissionDenied("只有招聘经理或管理员可以批量取消")
    if criteria.empty:
        raise BatchCriteriaRequired()
    reason = read.read_reason(db.session.connection(), reason_code)
    return reason, policy.check_reason(reason, actor, note, get_rules())


def preview(actor: Actor, criteria: Criteria, *, reason_code: str | None,
            note: str | None = None, reschedule: bool = False,
            now: datetime | None = None) -> Preview:
    """What a batch would do, kept for PREVIEW_TTL_SECONDS under its token."""
    now = now or utcnow()
    reason, note = _check(actor, reason_code, note, criteria)
    connection = db.session.connection()
    # Counted in SQL: a preview of 10,000 interviews reads a few rows, not 10,000 facts.
    selection = [[i, v] for i, v in connection.execute(
        _selection(actor, criteria, now, Interview.id, Interview.version)).all()]
    if not selection:
        raise BatchEmpty()
    if len(selection) > MAX_BATCH:
        raise BatchTooLarge()
    chosen = _selection(actor, criteria, now).subquery()
    in_batch = Interview.id.in_(select(chosen.c.id))
    grouped = (select(Interview).join(Position, Position.id == Interview.position_id)
               .where(in_batch))
    positions = connection.execute(
        grouped.with_only_columns(Position.title, func.count())
        .group_by(Position.title).order_by(func.count().desc(), Position.title)).all()
    statuses = connection.execute(
        grouped.with_only_columns(Interview.status, func.count())
        .group_by(Interview.status).order_by(func.count().desc())).all()
    candidates = connection.execute(
        grouped.with_only_columns(func.count(func.distinct(Interview.candidate_id)))).scalar()
    staff = staff_counts(connection, in_batch, actor)
    sample = read.read_interviews(connection, ids=[i for i, _v in selection[:SAMPLE_SIZE]])
    digest = hashlib.sha256(json.dumps(
        [actor.id, selection, reason.id, note, reschedule, criteria.as_json()],
        sort_keys=True).encode()).hexdigest()[:24]
    token = f"{digest}{secrets.token_hex(4)}"
    redis_store.client.set(_preview_key(token), json.dumps({
        "actor_id": actor.id, "selection": selection, "reason_id": reason.id, "note": note,
        "reschedule": reschedule, "criteria": criteria.as_json()}), ex=PREVIEW_TTL_SECONDS)
    return Preview(token, len(selection), [(t, n) for t, n in positions],
                   [(status.label, n) for status, n in statuses], sample, candidates,
                   len(staff), reason, note, reschedule, scope_text(criteria), criteria)


def staff_counts(connection, condition, actor: Actor) -> Counter:
    """How many of the interviews matching `condition` each staff member is told about
    (one summary each), counted in SQL: one row per distinct team, whatever the number of
    interviews. The acting user is left out."""
    teams = connection.execute(
        select(Position.recruiter_id, Position.hiring_manager_id, Interview.interviewer_id,
               func.count())
        .select_from(Interview).join(Position, Position.id == Interview.position_id)
        .where(condition)
        .group_by(Position.recruiter_id, Position.hiring_manager_id,
                  Interview.interviewer_id))
    counts: Counter = Counter()
    for recruiter_id, hiring_manager_id, interviewer_id, n in teams:
        team = SimpleNamespace(interviewer_id=interviewer_id, position=SimpleNamespace(
            recruiter_id=recruiter_id, hiring_manager_id=hiring_manager_id))
        for user_id in staff_of(team, ("recruiter", "hiring_manager", "interviewer")):
            if user_id != actor.id:
                counts[user_id] += n
    return counts


def _preview_key(token: str) -> str:
    return redis_store.key("batch-preview", token)


def confirm(actor: Actor, token: str, now: datetime | None = None) -> CancelBatch:
    """Create the batch of this preview (once: confirming it again returns the same batch);
    small batches run at once, large ones in the worker."""
    now = now or utcnow()
    if not actor.can("batch_cancel"):
        raise policy.PermissionDenied("只有招聘经理或管理员可以批量取消")
    existing = db.session.scalar(select(CancelBatch).where(CancelBatch.preview_token == token))
    if existing is not None:
        return existing
    raw = redis_store.client.get(_preview_key(token or "-"))
    if raw is None:
        raise PreviewExpired()
    stored = json.loads(raw)
    if stored["actor_id"] != actor.id:
        raise PreviewExpired()
    batch = CancelBatch(public_id="b_" + secrets.token_urlsafe(10), preview_token=token,
                        actor_id=actor.id, criteria=stored["criteria"],
                        selection=stored["selection"], reason_id=stored["reason_id"],
                        note=stored["note"], reschedule=stored["reschedule"],
                        status=BatchStatus.QUEUED, total=len(stored["selection"]),
                        processed=0, cancelled=0, skipped=[])
    db.session.add(batch)
    try:
        db.session.flush()
        audit.record(actor_type="hr", actor_id=actor.id, action="batch.created",
                     object_type="cancel_batch", object_id=batch.id,
                     data={"batch_id": batch.public_id, "criteria": batch.criteria,
                           "total": batch.total, "reason_id": batch.reason_id,
                           "note": batch.note,
                           **({"request_id": actor.request_id} if actor.request_id else {})},
                     ip=actor.ip)
        db.session.commit()
    except Exception:
        db.session.rollback()
        existing = db.session.scalar(
            select(CancelBatch).where(CancelBatch.preview_token == token))
        if existing is not None:  # a concurrent confirm of the same preview won
            return existing
        raise
    if batch.total <= INLINE_LIMIT:
        run(batch.id, actor=actor, now=now)
        db.session.refresh(batch)
    else:
        outbox.wake_dispatcher()
    return batch


def get_batch(actor: Actor, public_id: str) -> CancelBatch:
    batch = db.session.scalar(select(CancelBatch).where(CancelBatch.public_id == public_id)
                              .execution_options(populate_existing=True))
    if batch is None or not actor.can("batch_cancel") or (
            actor.departments is not None and batch.actor_id != actor.id
            and not _shares_department(actor, batch)):
        raise BatchNotFound()
    return batch


def _shares_department(actor: Actor, batch: CancelBatch) -> bool:
    from app.models import HrUser

    owner = db.session.get(HrUser, batch.actor_id)
    return owner is not None and bool(set(owner.departments) & (actor.departments or set()))


def _created_from(batch: CancelBatch) -> tuple[str | None, str | None]:
    """The client address and request id the batch was confirmed from (its batch.created
    entry): the worker's cancels are recorded as made from there, in that request."""
    from app.models import AuditEntry

    row = db.session.execute(select(AuditEntry.ip, AuditEntry.data).where(
        AuditEntry.object_type == "cancel_batch", AuditEntry.object_id == batch.id,
        AuditEntry.action == "batch.created").limit(1)).first()
    return (row.ip, (row.data or {}).get("request_id")) if row else (None, None)


def due_batch_ids() -> list[int]:
    """Batches the worker should run: queued, or running but left by a dead worker."""
    return list(db.session.scalars(
        select(CancelBatch.id).where(CancelBatch.status.in_(
            [BatchStatus.QUEUED, BatchStatus.RUNNING])).order_by(CancelBatch.id)))


def run(batch_id: int, *, actor: Actor | None = None, now: datetime | None = None,
        stop: Callable[[], bool] | None = None) -> None:
    """Run (or resume) a batch, chunk by chunk. Safe to call from several workers: a
    chunk's rows are locked, and a row already cancelled is skipped. `stop()` true
    (the worker is stopping): return between chunks, the batch still running, for any
    worker to resume from the chunks committed."""
    # Core statements change the row: never trust a copy the session already holds.
    batch = db.session.get(CancelBatch, batch_id, populate_existing=True)
    if batch is None or batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
        db.session.rollback()
        return
    if actor is None:
        from app.models import HrUser

        ip, request_id = _created_from(batch)
        actor = Actor.hr(db.session.get(HrUser, batch.actor_id)).from_ip(ip).in_request(
            request_id)
    if batch.status == BatchStatus.QUEUED:
        batch.status = BatchStatus.RUNNING
        batch.started_at = utcnow()
    db.session.commit()
    rules = get_rules()
    reason = read.read_reason_by_id(db.session.connection(), batch.reason_id)
    criteria = Criteria.from_json(batch.criteria)
    scope = scope_text(criteria)
    pending = batch.selection[batch.processed:]
    try:
        for chunk in read.chunks(pending, write.CHUNK):
            if stop is not None and stop():
                return
            _run_chunk(batch.id, chunk, actor, reason, rules, now)
        _finish(batch.id, actor, reason, scope)
    except AppError:
        raise
    except Exception as exc:
        db.session.rollback()
        db.session.execute(update(CancelBatch).where(CancelBatch.id == batch_id)
                           .values(error=str(exc)[:500]))
        db.session.commit()
        raise


def _run_chunk(batch_id, chunk, actor, reason, rules, now) -> None:
    now = now or utcnow()
    versions = dict((interview_id, version) for interview_id, version in chunk)
    with collector.paused(), transaction.transaction() as connection:
        table = CancelBatch.__table__
        batch = connection.execute(  # not the selection: it is large and read once per run
            select(table.c.public_id, table.c.note, table.c.reschedule, table.c.processed,
                   table.c.cancelled, table.c.skipped)
            .where(table.c.id == batch_id).with_for_update()).first()
        locked = read.read_interviews(connection, ids=list(versions),
                                      for_update=True)
        reschedule_by = reschedule_deadline(now, rules) if batch.reschedule else None
        decisions, skipped = [], []
        for interview in locked:
            if interview.version != versions[interview.id]:
                skipped.append(_skip(interview, "预览后已变更"))
                continue
            try:
                decisions.append(policy.decide_cancel(
                    interview, actor, reason, batch.note, rules, now,
                    reschedule_by=reschedule_by, batch_id=batch.public_id,
                    staff_messages=False))
            except AppError as exc:
                skipped.append(_skip(interview, exc.message))
        missing = set(versions) - {i.id for i in locked}
        skipped += [{"id": i, "number": None, "why": "面试已删除"} for i in missing]
        endpoints = webhooks.active_endpoints(connection)
        endpoints_json = [{"id": e, "events": events} for e, events in endpoints]
        write.apply_chunk(connection, decisions, endpoints=endpoints_json,
                          contexts=lambda d: write.decision_context(
                              d, rules.hr_contact, rules.reschedule_window_working_days))
        connection.execute(update(CancelBatch.__table__).where(CancelBatch.id == batch_id).values(
            processed=batch.processed + len(chunk), cancelled=batch.cancelled + len(decisions),
            skipped=list(batch.skipped or []) + skipped, updated_at=now))
    outbox.wake_dispatcher()


def _skip(interview, why: str) -> dict:
    return {"id": interview.id, "number": interview.number, "why": why}


def _finish(batch_id: int, actor: Actor, reason, scope: str) -> None:
    """One summary per staff member of the interviews cancelled, then done."""
    now = utcnow()
    with transaction.transaction() as connection:
        batch = db.session.get(CancelBatch, batch_id, with_for_update=True,
                               populate_existing=True)
        if batch.status == BatchStatus.DONE:
            return
        counts = staff_counts(connection, Interview.id.in_(
            select(Cancellation.interview_id).where(Cancellation.batch_id == batch.public_id)),
            actor)
        context = {"scope": scope[:40], "reason_label": reason.label,
                   "cancelled": batch.cancelled, "skipped": len(batch.skipped or []),
                   "actor_name": actor.name or "", "cancelled_at": iso(now),
                   "batch_id": batch.public_id}
        outbox.write(connection, [outbox.message_row(
            event=f"batch.cancelled:{batch.public_id}", kind="staff_batch_cancelled",
            recipient_type="hr_user", recipient_id=user_id, interview_id=None,
            context={**context, "yours": n}, now=now, request_id=actor.request_id)
            for user_id, n in counts.items()])
        audit.write(connection, [audit.entry_row(
            actor_type="hr", actor_id=actor.id, action="batch.finished",
            object_type="cancel_batch", object_id=batch.id,
            data={"batch_id": batch.public_id, "cancelled": batch.cancelled,
                  "skipped": len(batch.skipped or []), "total": batch.total,
                  "summaries": len(counts),
                  **({"request_id": actor.request_id} if actor.request_id else {})},
            ip=actor.ip, at=now)])
        batch.status = BatchStatus.DONE
        batch.finished_at = now
    outbox.wake_dispatcher()


def session_choices(actor: Actor, now: datetime | None = None) -> list[tuple[int, str, int]]:
    """Upcoming sessions with active interviews in the actor's scope: (id, label, count)."""
    now = now or utcnow()
    rows = db.session.execute(
        select(InterviewSession, func.count(Interview.id))
        .join(Interview, Interview.session_id == InterviewSession.id)
        .join(Position, Position.id == Interview.position_id)
        .where(interview_scope(actor), InterviewSession.starts_at > now - timedelta(days=1),
               Interview.status.in_(sorted(ACTIVE_STATUSES)))
        .group_by(InterviewSession.id).order_by(InterviewSession.starts_at).limit(200))
    return [(s.id, session_label(s), n) for s, n in rows]


def cn_time(value) -> str:
    return cn_datetime(value)
