"""What a cancellation decision reads: one facts type, and its readers.

- `candidate_read_statement()`: the candidate's cancel, everything in one statement (the
  interview with its position and candidate, the chosen reason, the rules, the webhook
  endpoints and, on PostgreSQL, the next cancellation id). The row is not locked: the
  write changes it only if its version is still the one read (optimistic locking).
- `read_interviews(connection, ids)`: facts of many interviews, set-based.
- `read_reason(connection, code)`, `read_request(...)`: a reason; a pending request.

Facts carry the same attribute names as the models, so serializers, message contexts and
webhook payloads take either.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, literal_column, select

from app.core import sqlwrite
from app.models import (
    Approval,
    ApprovalDecision,
    Cancellation,
    CancellationState,
    CancelReason,
    Candidate,
    Interview,
    InterviewStatus,
    Position,
    ReasonActor,
    Setting,
)
from app.services.rules import RULES_KEY
from app.services.webhooks import subscribed_endpoints_column

INTERVIEWS = Interview.__table__
POSITIONS = Position.__table__
CANDIDATES = Candidate.__table__
REASONS = CancelReason.__table__
SETTINGS = Setting.__table__


@dataclass(frozen=True)
class PositionFacts:
    title: str
    department: str
    is_senior: bool
    cancel_requires_review: bool
    recruiter_id: int | None
    hiring_manager_id: int | None
    level: str | None = None   # Position.level (rule second_approval_levels)


@dataclass(frozen=True)
class CandidateFacts:
    id: int
    name: str
    external_ref: str | None


@dataclass(frozen=True)
class InterviewFacts:
    id: int
    public_id: str
    number: str
    status: InterviewStatus
    status_before_request: InterviewStatus | None
    scheduled_at: datetime
    duration_minutes: int
    join_url: str | None
    confirm_by: datetime | None
    session_id: int | None
    interviewer_id: int | None
    version: int
    position: PositionFacts
    candidate: CandidateFacts

    @property
    def candidate_id(self) -> int:
        return self.candidate.id

    def cancel_deadline(self, hours_before: int) -> datetime:
        return self.scheduled_at - timedelta(hours=hours_before)

    def moved(self, status: InterviewStatus, status_before_request: InterviewStatus | None
              ) -> InterviewFacts:
        """The same interview in a new status, one version on (a cheap copy: a batch makes
        thousands of them)."""
        values = self.__dict__.copy()
        values["status"] = status
        values["status_before_request"] = status_before_request
        values["version"] = self.version + 1
        after = _new(InterviewFacts)
        object.__setattr__(after, "__dict__", values)
        return after


@dataclass(frozen=True)
class ReasonFacts:
    id: int
    code: str
    label: str
    actor: ReasonActor
    active: bool = True
    requires_note: bool = False
    note_max_length: int = 200


@dataclass(frozen=True)
class ApprovalFacts:
    level: int
    decision: ApprovalDecision
    approver_id: int | None


@dataclass(frozen=True)
class RequestFacts:
    """A candidate's cancellation request under review."""
    cancellation_id: int
    state: CancellationState
    interview: InterviewFacts
    reason: ReasonFacts
    note: str | None
    approvals: tuple[ApprovalFacts, ...]
    detail_question: str | None = None


INTERVIEW_COLUMNS = (
    INTERVIEWS.c.id, INTERVIEWS.c.public_id, INTERVIEWS.c.number, INTERVIEWS.c.status,
    INTERVIEWS.c.status_before_request, INTERVIEWS.c.scheduled_at,
    INTERVIEWS.c.duration_minutes, INTERVIEWS.c.join_url, INTERVIEWS.c.confirm_by,
    INTERVIEWS.c.session_id, INTERVIEWS.c.interviewer_id, INTERVIEWS.c.version,
    INTERVIEWS.c.candidate_id,
    POSITIONS.c.title, POSITIONS.c.department, POSITIONS.c.is_senior,
    POSITIONS.c.cancel_requires_review, POSITIONS.c.recruiter_id,
    POSITIONS.c.hiring_manager_id, POSITIONS.c.level.label("position_level"),
    CANDIDATES.c.name.label("candidate_name"), CANDIDATES.c.external_ref,
)


_INTERVIEW_FIELDS = ("id", "public_id", "number", "status", "status_before_request",
                     "scheduled_at", "duration_minutes", "join_url", "confirm_by",
                     "session_id", "interviewer_id", "version")
_new = object.__new__
# interview_from_row() reads INTERVIEW_COLUMNS by position: the layout it expects.
assert [c.key for c in INTERVIEW_COLUMNS] == [
    *_INTERVIEW_FIELDS, "candidate_id", "title", "department", "is_senior",
    "cancel_requires_review", "recruiter_id", "hiring_manager_id", "position_level",
    "candidate_name", "external_ref"], "INTERVIEW_COLUMNS and interview_from_row disagree"


def interview_from_row(row, positions: dict | None = None) -> InterviewFacts:
    """Facts from a row of INTERVIEW_COLUMNS (read by position: its first twelve columns
    are the interview's own, in InterviewFacts' order). `positions`: a cache shared by the
    rows of one read, so thousands of interviews of one position share one PositionFacts.

    Built without the frozen dataclasses' __init__ (one object.__setattr__ per field: a
    chunk of 1,000 rows spent most of its read there); the values are the same."""
    key = tuple(row[13:20])
    position = positions.get(key) if positions is not None else None
    if position is None:
        position = PositionFacts(*key)
        if positions is not None:
            positions[key] = position
    candidate = _new(CandidateFacts)
    candidate.__dict__.update(id=row[12], name=row[20], external_ref=row[21])
    facts = _new(InterviewFacts)
    values = facts.__dict__
    values.update(zip(_INTERVIEW_FIELDS, row[:12], strict=True))
    values["position"] = position
    values["candidate"] = candidate
    return facts


def _interviews_select(*columns):
    return (select(*INTERVIEW_COLUMNS, *columns).select_from(INTERVIEWS)
            .join(POSITIONS, POSITIONS.c.id == INTERVIEWS.c.position_id)
            .join(CANDIDATES, CANDIDATES.c.id == INTERVIEWS.c.candidate_id))


# --- the candidate's cancel: one statement ---------------------------------------------

@dataclass(frozen=True)
class CandidateCancelFacts:
    interview: InterviewFacts
    reason: ReasonFacts | None
    stored_rules: dict | None
    webhook_endpoints: object
    next_cancellation_id: int | None


def candidate_read_statement(dialect_name: str, cancellation_sequence: str | None = None):
    """Everything the candidate's cancel needs, in one statement, by the candidate's id,
    the interview's public id and the reason code."""
    columns = [
        REASONS.c.id.label("reason_id"), REASONS.c.code.label("reason_code"),
        REASONS.c.label.label("reason_label"), REASONS.c.actor.label("reason_actor"),
        REASONS.c.active.label("reason_active"), REASONS.c.requires_note,
        REASONS.c.note_max_length,
        SETTINGS.c.value.label("rules"),
        subscribed_endpoints_column(dialect_name),
    ]
    if dialect_name == "postgresql":
        # The cancellation's id, taken now, so that the whole write is one statement.
        sequence = "'" + cancellation_sequence.replace("'", "''") + "'::regclass"
        columns.append(func.nextval(literal_column(sequence)).label("next_cancellation_id"))
    return (_interviews_select(*columns)
            .outerjoin(REASONS, REASONS.c.code == bindparam("q_reason_code"))
            .outerjoin(SETTINGS, SETTINGS.c.key == RULES_KEY)
            .where(INTERVIEWS.c.public_id == bindparam("q_public_id"),
                   INTERVIEWS.c.candidate_id == bindparam("q_candidate_id")))


def candidate_facts_from_row(row) -> CandidateCancelFacts:
    reason = None
    if row.reason_id is not None:
        reason = ReasonFacts(row.reason_id, row.reason_code, row.reason_label,
                             row.reason_actor, row.reason_active, row.requires_note,
                             row.note_max_length)
    return CandidateCancelFacts(interview_from_row(row), reason, row.rules,
                                row.webhook_endpoints,
                                getattr(row, "next_cancellation_id", None))


# --- other readers (SQLAlchemy Core on the caller's connection) --------------------------

def read_interviews(connection, *, ids: Iterable[int] | None = None,
                    public_ids: Iterable[str] | None = None,
                    candidate_id: int | None = None,
                    for_update: bool = False) -> list[InterviewFacts]:
    """Facts of these interviews in one statement (ordered by time, then id); with
    `for_update` the interview rows stay locked until the caller's transaction ends."""
    if ids is not None and public_ids is None and candidate_id is None \
            and connection.dialect.name == "postgresql":
        positions: dict = {}
        return [interview_from_row(row, positions) for row in _by_ids(
            connection.dialect, for_update).all(connection.connection.driver_connection,
                                                {"id_list": list(ids)})]
    stmt = _interviews_select()
    if for_update:
        stmt = stmt.with_for_update(of=INTERVIEWS)
    if ids is not None:
        stmt = stmt.where(sqlwrite.id_in(INTERVIEWS.c.id, list(ids), connection.dialect.name))
    if public_ids is not None:
        stmt = stmt.where(INTERVIEWS.c.public_id.in_(list(public_ids)))
    if candidate_id is not None:
        stmt = stmt.where(INTERVIEWS.c.candidate_id == candidate_id)
    stmt = stmt.order_by(INTERVIEWS.c.scheduled_at, INTERVIEWS.c.id)
    positions: dict = {}
    # .all(): one fetch of the whole set (iterating the result fetches row by row)
    return [interview_from_row(row, positions) for row in connection.execute(stmt).all()]


_BY_IDS: dict = {}


def _by_ids(dialect, for_update: bool) -> sqlwrite.Prepared:
    """PostgreSQL: read_interviews(ids=...) compiled once and run on the driver's cursor
    (in the caller's transaction): a chunk's read spent half its time building the
    statement and in SQLAlchemy's per-row result handling. The same SQL and the same
    type conversions (the columns' own result processors)."""
    found = _BY_IDS.get(for_update)
    if found is None:
        stmt = _interviews_select().where(sqlwrite.id_in(INTERVIEWS.c.id, [], "postgresql"))
        if for_update:
            stmt = stmt.with_for_update(of=INTERVIEWS)
        stmt = stmt.order_by(INTERVIEWS.c.scheduled_at, INTERVIEWS.c.id)
        found = _BY_IDS[for_update] = sqlwrite.Prepared(stmt, dialect)
    return found


def read_interview(connection, public_id: str, candidate_id: int | None = None
                   ) -> InterviewFacts | None:
    found = read_interviews(connection, public_ids=[public_id], candidate_id=candidate_id)
    return found[0] if found else None


def read_reason(connection, code: str | None) -> ReasonFacts | None:
    if not code:
        return None
    row = connection.execute(select(REASONS).where(REASONS.c.code == code)).first()
    return _reason(row) if row is not None else None


def read_reason_by_id(connection, reason_id: int) -> ReasonFacts | None:
    row = connection.execute(select(REASONS).where(REASONS.c.id == reason_id)).first()
    return _reason(row) if row is not None else None


def _reason(row) -> ReasonFacts:
    return ReasonFacts(row.id, row.code, row.label, row.actor, row.active,
                       row.requires_note, row.note_max_length)


def read_request(connection, cancellation_id: int) -> RequestFacts | None:
    """A cancellation (request) with its interview, reason and approval levels."""
    table = Cancellation.__table__
    row = connection.execute(
        select(table).where(table.c.id == cancellation_id)).first()
    if row is None:
        return None
    [interview] = read_interviews(connection, ids=[row.interview_id]) or [None]
    if interview is None:
        return None
    approvals = Approval.__table__
    levels = tuple(ApprovalFacts(a.level, a.decision, a.approver_id) for a in connection.execute(
        select(approvals).where(approvals.c.cancellation_id == cancellation_id)
        .order_by(approvals.c.level)))
    return RequestFacts(row.id, row.state, interview,
                        read_reason_by_id(connection, row.reason_id), row.note, levels,
                        row.detail_question)


def latest_request_id(connection, interview_id: int) -> int | None:
    """The interview's open request (requested or waiting for detail), if any."""
    table = Cancellation.__table__
    return connection.execute(
        select(table.c.id).where(
            table.c.interview_id == interview_id,
            table.c.state.in_([CancellationState.REQUESTED,
                               CancellationState.DETAIL_REQUESTED]))
        .order_by(table.c.id.desc()).limit(1)).scalar()


def chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
