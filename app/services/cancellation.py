"""Cancelling interviews: by the candidate (the two taps).

A candidate's cancel is the product's busiest write, so it is written as SQL statements
rather than through the ORM unit of work (see app.sqlwrite). One read gets everything the
decision needs (the interview with its position and candidate, the chosen reason, the
rules in force, the webhook endpoints); one write makes the decision durable, all or
nothing: the interview's state change, checked against the version read (a concurrent
change wins and this cancel writes nothing), the place freed in the session, the
cancellation, its approvals, the audit entry, the outbox rows and the webhook deliveries.
On PostgreSQL that write is a single statement and its own transaction; on SQLite it is
the session's transaction. Then the worker is woken.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache, lru_cache

from sqlalchemy import bindparam, case, func, literal_column, select, update
from sqlalchemy.orm import joinedload

from app.core import sqlwrite
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import (
    Approval,
    ApprovalDecision,
    Cancellation,
    CancellationState,
    CancelReason,
    Candidate,
    Interview,
    InterviewSession,
    InterviewStatus,
    Position,
    ReasonActor,
    Setting,
)
from app.models.interview import ACTIVE_STATUSES
from app.services import audit, webhooks
from app.services.interviews.errors import (
    AlreadyCancelled,
    CancelDeadlinePassed,
    CancelPending,
    InterviewNotFound,
    InterviewStarted,
    InvalidReason,
    NotCancellable,
    NoteRequired,
    NoteTooLong,
)
from app.services.notifications import outbox
from app.services.rules import RULES_KEY, Rules, rules_from


def load_candidate_interview(candidate_id: int, public_id: str, *, lock: bool = False
                             ) -> Interview:
    """The candidate's own interview; another candidate's interview is 'not found'."""
    stmt = (select(Interview)
            .options(joinedload(Interview.position), joinedload(Interview.candidate),
                     joinedload(Interview.session))
            .where(Interview.public_id == public_id, Interview.candidate_id == candidate_id))
    if lock:
        stmt = stmt.with_for_update(of=Interview)
    interview = db.session.scalars(stmt).first()
    if interview is None:
        raise InterviewNotFound()
    return interview


@dataclass(frozen=True)
class PositionFacts:
    title: str
    department: str
    is_senior: bool
    cancel_requires_review: bool
    recruiter_id: int | None
    hiring_manager_id: int | None


@dataclass(frozen=True)
class CandidateFacts:
    id: int
    name: str
    external_ref: str | None


@dataclass(frozen=True)
class InterviewFacts:
    """What the cancel path read about an interview, with the same attribute names as the
    model, so serializers, message contexts and webhook payloads take either."""
    id: int
    public_id: str
    number: str
    status: InterviewStatus
    scheduled_at: datetime
    duration_minutes: int
    join_url: str | None
    confirm_by: datetime | None
    session_id: int | None
    interviewer_id: int | None
    version: int
    position: PositionFacts
    candidate: CandidateFacts

    def cancel_deadline(self, hours_before: int) -> datetime:
        return self.scheduled_at - timedelta(hours=hours_before)


@dataclass(frozen=True)
class ReasonFacts:
    id: int
    code: str
    label: str


@dataclass(frozen=True)
class CancelOutcome:
    interview: InterviewFacts   # as it is after the cancel
    cancellation_id: int
    state: CancellationState
    reason: ReasonFacts
    note: str | None
    rules: Rules

    @property
    def status(self) -> InterviewStatus:
        return self.interview.status


def cancel_by_candidate(*, candidate_id: int, interview_public_id: str, reason_code: str,
                        note: str | None = None, now: datetime | None = None) -> CancelOutcome:
    """A candidate cancels their interview: cancelled at once, or a request for HR review
    when the position requires review (or, as configured, when the self-service deadline
    has passed). Refused after the deadline otherwise."""
    now = now or utcnow()
    try:
        if db.engine.dialect.name == "postgresql":
            # One statement is the whole transaction: autocommit, no BEGIN/COMMIT trips.
            with sqlwrite.autocommit(db.engine) as conn:
                outcome = _cancel_by_candidate(conn, candidate_id, interview_public_id,
                                               reason_code, note, now, postgres=True)
        else:
            outcome = _cancel_by_candidate(db.session.connection(), candidate_id,
                                           interview_public_id, reason_code, note, now)
            db.session.commit()
    except _LostRace:
        # A concurrent change committed first: report the state it left.
        db.session.rollback()
        interview = load_candidate_interview(candidate_id, interview_public_id)
        raise _state_error(interview.status) from None
    except Exception:
        db.session.rollback()
        raise
    outbox.wake_dispatcher()
    return outcome


class _LostRace(Exception):
    """The interview changed between the read and the write: nothing was written."""


def _state_error(status: InterviewStatus):
    if status == InterviewStatus.CANCELLED:
        return AlreadyCancelled()
    if status == InterviewStatus.CANCEL_PENDING:
        return CancelPending()
    return NotCancellable()


_IV = Interview.__table__
_POS = Position.__table__
_CAND = Candidate.__table__
_REASON = CancelReason.__table__
_SETTING = Setting.__table__
_SESSION = InterviewSession.__table__


def _read_statement(dialect_name: str, cancellation_sequence: str | None = None):
    """Everything the decision needs, in one statement. The row is not locked: the write
    changes it only if its version is still the one read (optimistic locking)."""
    columns = [
        _IV.c.id, _IV.c.public_id, _IV.c.number, _IV.c.status, _IV.c.scheduled_at,
        _IV.c.duration_minutes, _IV.c.join_url, _IV.c.confirm_by, _IV.c.session_id,
        _IV.c.interviewer_id, _IV.c.version,
        _POS.c.title, _POS.c.department, _POS.c.is_senior, _POS.c.cancel_requires_review,
        _POS.c.recruiter_id, _POS.c.hiring_manager_id,
        _CAND.c.name.label("candidate_name"), _CAND.c.external_ref,
        _REASON.c.id.label("reason_id"), _REASON.c.label.label("reason_label"),
        _REASON.c.actor.label("reason_actor"), _REASON.c.active.label("reason_active"),
        _REASON.c.requires_note, _REASON.c.note_max_length,
        _SETTING.c.value.label("rules"),
        webhooks.subscribed_endpoints_column(dialect_name),
    ]
    if dialect_name == "postgresql":
        # The cancellation's id, taken now, so that the whole write is one statement.
        sequence = "'" + cancellation_sequence.replace("'", "''") + "'::regclass"
        columns.append(func.nextval(literal_column(sequence)).label("next_cancellation_id"))
    return (select(*columns)
            .select_from(_IV)
            .join(_POS, _POS.c.id == _IV.c.position_id)
            .join(_CAND, _CAND.c.id == _IV.c.candidate_id)
            .outerjoin(_REASON, _REASON.c.code == bindparam("q_reason_code"))
            .outerjoin(_SETTING, _SETTING.c.key == RULES_KEY)
            .where(_IV.c.public_id == bindparam("q_public_id"),
                   _IV.c.candidate_id == bindparam("q_candidate_id")))


@dataclass(frozen=True)
class _Shape:
    """What varies between cancel writes, apart from values."""
    needs_review: bool
    frees_place: bool          # cancelled at once, in a session whose place is freed
    approval_levels: int
    messages: int
    deliveries: int


@lru_cache(maxsize=64)
def _write_plan(dialect_name: str, shape: _Shape):
    """The guard (the interview's state change, checked against the version read) and the
    writes that go with it, with named parameters; on PostgreSQL all of them as one
    statement. Returns (guard, cancellation insert, other writes, combined)."""
    values = dict(status=bindparam("new_status", type_=_IV.c.status.type),
                  version=bindparam("new_version"), updated_at=bindparam("now"))
    if shape.needs_review:
        values["status_before_request"] = bindparam("old_status", type_=_IV.c.status.type)
    else:
        values["cancelled_at"] = bindparam("now")
    guard = (update(_IV).where(_IV.c.id == bindparam("iv_id"),
                               _IV.c.version == bindparam("old_version"))
             .values(**values).returning(_IV.c.id, _IV.c.updated_at))
    per_row = ("id",) if dialect_name == "postgresql" else ()
    [cancellation] = sqlwrite.insert_rows(
        Cancellation.__table__, 1, "c", (*per_row, "actor_id", "reason_id", "note", "state",
                                         "decided_at"),
        shared={"interview_id": "iv_id", "actor_type": sqlwrite.constant("candidate"),
                "requested_at": "now", "created_at": "now", "updated_at": "now"})
    writes = []
    if shape.frees_place:
        # In SQL, not read-modify-write: a concurrent reschedule's booked + 1 survives.
        writes.append(sqlwrite.Write(
            _SESSION,
            {"booked": case((_SESSION.c.booked > 0, _SESSION.c.booked - 1),
                            else_=sqlwrite.constant(0)),
             "updated_at": bindparam("now", type_=_SESSION.c.updated_at.type)},
            where=_SESSION.c.id == bindparam("place_session_id")))
    writes += sqlwrite.insert_rows(
        Approval.__table__, shape.approval_levels, "a", ("level",),
        shared={"cancellation_id": "cancellation_id",
                "decision": sqlwrite.constant(ApprovalDecision.PENDING),
                "created_at": "now", "updated_at": "now"})
    writes.append(audit.insert_row())
    writes += outbox.fanout_rows(shape.messages)
    writes += webhooks.delivery_rows(shape.deliveries)
    if dialect_name == "postgresql":
        return guard, None, None, sqlwrite.guarded_unit(
            guard, [cancellation, *writes], from_guard={"iv_id": "id", "now": "updated_at"})
    return guard, cancellation.statement(), [w.statement() for w in writes], None


_PREPARED: dict = {}


@cache
def _sqlite_read():
    return _read_statement("sqlite")


def _serial_sequence(driver_connection, table: str) -> str:
    """The sequence behind `table`.id (looked up once: the function behind it reads the
    catalogs, which costs more than the rest of the read)."""
    with driver_connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
        return cursor.fetchone()[0]


def _prepared(dialect, key, build) -> sqlwrite.Prepared:
    """PostgreSQL: the statement `build(dialect name)` for `key`, compiled once."""
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = sqlwrite.Prepared(build(dialect.name), dialect)
    return found


def _facts(row, candidate_id: int) -> InterviewFacts:
    return InterviewFacts(
        id=row.id, public_id=row.public_id, number=row.number, status=row.status,
        scheduled_at=row.scheduled_at, duration_minutes=row.duration_minutes,
        join_url=row.join_url, confirm_by=row.confirm_by, session_id=row.session_id,
        interviewer_id=row.interviewer_id, version=row.version,
        position=PositionFacts(row.title, row.department, row.is_senior,
                               row.cancel_requires_review, row.recruiter_id,
                               row.hiring_manager_id),
        candidate=CandidateFacts(candidate_id, row.candidate_name, row.external_ref))


def _check_note(row, note: str | None, global_max: int) -> str | None:
    note = (note or "").strip() or None
    if row.requires_note and not note:
        raise NoteRequired(details={"field": "note"})
    limit = min(row.note_max_length, global_max)
    if note and len(note) > limit:
        raise NoteTooLong(f"说明最多{limit}个字", details={"field": "note", "max_length": limit})
    return note


def _cancel_by_candidate(conn, candidate_id, public_id, reason_code, note, now,
                         postgres: bool = False) -> CancelOutcome:
    """`conn`: on PostgreSQL a driver connection in autocommit mode, otherwise the
    session's SQLAlchemy connection."""
    dialect = db.engine.dialect
    dialect_name = dialect.name
    query = {"q_candidate_id": candidate_id, "q_public_id": public_id,
             "q_reason_code": reason_code}
    if postgres:
        row = _prepared(dialect, "read", lambda name: _read_statement(
            name, _serial_sequence(conn, "cancellations"))).first(conn, query)
    else:
        row = conn.execute(_sqlite_read(), query).first()
    if row is None:
        raise InterviewNotFound()
    if (row.reason_id is None or not row.reason_active
            or row.reason_actor != ReasonActor.CANDIDATE):
        raise InvalidReason(details={"field": "reason_code"})
    rules = rules_from(row.rules)
    note = _check_note(row, note, rules.note_max_length)
    interview = _facts(row, candidate_id)
    if interview.status not in ACTIVE_STATUSES:
        raise _state_error(interview.status)
    if now >= interview.scheduled_at:
        raise InterviewStarted()
    deadline = interview.cancel_deadline(rules.cancel_deadline_hours)
    late = now >= deadline
    if late and rules.after_deadline == "refuse":
        raise CancelDeadlinePassed(
            f"已超过可自助取消的时间（面试开始前{rules.cancel_deadline_hours}小时），"
            f"{rules.hr_contact}",
            details={"cancel_deadline": iso(deadline), "hr_contact": rules.hr_contact})

    needs_review = interview.position.cancel_requires_review or late
    new_status = InterviewStatus.CANCEL_PENDING if needs_review else InterviewStatus.CANCELLED
    state = CancellationState.REQUESTED if needs_review else CancellationState.EFFECTIVE
    event_type = "interview.cancel_requested" if needs_review else "interview.cancelled"
    reason = ReasonFacts(row.reason_id, reason_code, row.reason_label)
    after = replace(interview, status=new_status, version=interview.version + 1)
    endpoint_ids = webhooks.endpoints_subscribed(row.webhook_endpoints, event_type)
    staff = _staff_recipients(interview, needs_review)
    shape = _Shape(needs_review=needs_review,
                   frees_place=not needs_review and interview.session_id is not None,
                   approval_levels=(2 if interview.position.is_senior else 1)
                   if needs_review else 0,
                   messages=1 + len(staff), deliveries=len(endpoint_ids))
    guard, insert_cancellation, dependents, combined = _write_plan(dialect_name, shape)
    params = {"iv_id": interview.id, "old_version": interview.version,
              "new_version": interview.version + 1, "new_status": new_status,
              "old_status": interview.status, "now": now,
              "place_session_id": interview.session_id,
              "c0_actor_id": candidate_id, "c0_reason_id": reason.id, "c0_note": note,
              "c0_state": state, "c0_decided_at": None if needs_review else now}

    def dependent_params(cancellation_id: int) -> dict:
        event = f"{event_type}:{cancellation_id}"
        values = {"cancellation_id": cancellation_id}
        values.update(sqlwrite.rows_params("a", [
            {"level": level} for level in range(1, shape.approval_levels + 1)]))
        values.update(audit.entry_params(
            actor_type="candidate", actor_id=candidate_id, action=event_type,
            object_type="interview", object_id=interview.id,
            data={"reason": reason.code, "note": note, "cancellation_id": cancellation_id,
                  "number": interview.number}))
        values.update(outbox.fanout_params(
            event, outbox.interview_context(after, reason_label=reason.label, note=note or ""),
            _recipients(after, staff, needs_review)))
        if endpoint_ids:
            values.update(webhooks.delivery_params(
                event_type, event,
                webhooks.interview_payload(after, reason=reason, actor_type="candidate",
                                           actor_id=candidate_id, at=now),
                endpoint_ids))
        return values

    if combined is not None:  # PostgreSQL: one round trip
        cancellation_id = row.next_cancellation_id
        params["c0_id"] = cancellation_id
        params.update(dependent_params(cancellation_id))
        if _prepared(dialect, shape, lambda _: combined).first(conn, params)[0] != 1:
            raise _LostRace()
    else:
        if conn.execute(guard, params).first() is None:
            raise _LostRace()
        cancellation_id = conn.execute(insert_cancellation, params).inserted_primary_key[0]
        params.update(dependent_params(cancellation_id))
        for statement in dependents:
            conn.execute(statement, params)
    return CancelOutcome(after, cancellation_id, state, reason, note, rules)


def _staff_recipients(interview: InterviewFacts, needs_review: bool) -> list[int]:
    """The recruiting team, and the interviewer when the interview is cancelled at once."""
    position = interview.position
    staff = [position.recruiter_id, position.hiring_manager_id]
    if not needs_review:
        staff.append(interview.interviewer_id)
    return list(dict.fromkeys(u for u in staff if u is not None))


def _recipients(interview: InterviewFacts, staff: list[int], needs_review: bool
                ) -> list[tuple[str, str, int]]:
    """(kind, recipient type, recipient id): the candidate's confirmation, then one message
    per staff recipient."""
    if needs_review:
        candidate_kind, staff_kind = "candidate_cancel_requested", "staff_approval_needed"
    else:
        candidate_kind, staff_kind = "candidate_cancel_confirmed", "staff_candidate_cancelled"
    return [(candidate_kind, "candidate", interview.candidate.id),
            *((staff_kind, "hr_user", user_id) for user_id in staff)]
