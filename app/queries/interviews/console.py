"""Interview list and detail queries for the HR console (read-only, no N+1)."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, func, or_, select, union
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.sql.util import find_tables

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import (
    ActorType,
    AuditEntry,
    Cancellation,
    CancellationState,
    Candidate,
    HrUser,
    Interview,
    InterviewStatus,
    OutboxMessage,
    Position,
)
from app.services.users.actor import Actor, department_scope, interview_scope

PER_PAGE = 20
MAX_QUERY_LENGTH = 100
# A text search matching more interviews than this is broad: it takes the OR plan, and its
# count stops there (the list says 超过 2000 条 and asks to narrow the search), as does the
# initiator filter's. Counting further read a tenth of the table for nobody: 80 ms at
# 2,000, 90-850 ms at 10,000.
BROAD_MATCHES = 2000
# Statuses whose latest cancellation explains the current state.
CANCEL_STATUSES = frozenset({InterviewStatus.CANCELLED, InterviewStatus.CANCEL_PENDING})


@dataclass
class InterviewRow:
    """One list row: the interview plus what the page shows next to it."""

    interview: Interview
    messages: list[OutboxMessage] = field(default_factory=list)
    latest_cancellation: Cancellation | None = None

    @property
    def cancellation(self) -> Cancellation | None:
        """The cancellation to show in the list, only while it explains the status."""
        if self.interview.status in CANCEL_STATUSES:
            return self.latest_cancellation
        return None


@dataclass
class InterviewPage:
    """A page of interview rows with its pagination numbers."""

    rows: list[InterviewRow]
    page: int
    per_page: int
    total: int
    capped: bool = False   # more than `total` match (a broad search counted up to a cap)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class InterviewDetail:
    """Everything the detail page shows about one interview."""

    interview: Interview
    cancellations: list[Cancellation]
    messages: list[OutboxMessage]
    audit_entries: list[AuditEntry]
    hr_names: dict[int, str]


@dataclass(frozen=True)
class Filters:
    """The console's search: text, status, date range (Asia/Shanghai days), session,
    department, position and who cancelled."""
    q: str | None = None
    status: InterviewStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    session_id: int | None = None
    department: str | None = None
    position_id: int | None = None
    initiator: ActorType | None = None
    sort: str = "desc"   # by time: "asc" or "desc"

    def args(self) -> dict:
        """The query-string form (for pagination and export links)."""
        return {k: v for k, v in {
            "q": self.q or None, "status": self.status.value if self.status else None,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "session_id": self.session_id, "department": self.department or None,
            "position_id": self.position_id,
            "initiator": self.initiator.value if self.initiator else None,
            "sort": self.sort if self.sort != "desc" else None}.items() if v is not None}


def _filters(q: str | None, status: InterviewStatus | None, f: Filters | None = None,
             plan: TextPlan | None = None, actor: Actor | None = None) -> list:
    conditions = []
    if f is not None:
        if f.date_from:
            conditions.append(Interview.scheduled_at >= datetime.combine(
                f.date_from, time(0), SHANGHAI))
        if f.date_to:
            conditions.append(Interview.scheduled_at < datetime.combine(
                f.date_to + timedelta(days=1), time(0), SHANGHAI))
        if f.session_id:
            conditions.append(Interview.session_id == f.session_id)
        if f.department:
            conditions.append(Position.department == f.department)
        if f.position_id:
            conditions.append(Interview.position_id == f.position_id)
        if f.initiator:
            # The latest cancellation of the interview was made by this kind of actor: a
            # set of interview ids (no later cancellation of the same interview exists),
            # not a subquery per listed interview, which read a million of them.
            mine, later = aliased(Cancellation), aliased(Cancellation)
            conditions.append(Interview.id.in_(select(mine.interview_id).where(
                mine.actor_type == f.initiator.value,
                mine.state.in_([CancellationState.EFFECTIVE, CancellationState.REQUESTED,
                                CancellationState.DETAIL_REQUESTED]),
                ~exists().where(later.interview_id == mine.interview_id,
                                later.id > mine.id))))
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if q:
        conditions.append(_text_match(q, plan or text_plan(q, actor), actor))
    if status is not None:
        conditions.append(Interview.status == status)
    return conditions


def _like_pattern(q: str) -> str:
    return q.replace("/", "//").replace("%", "/%").replace("_", "/_")


@dataclass(frozen=True)
class TextPlan:
    """How a text search runs (see _text_match), decided by text_plan."""
    broad: bool = False        # more than BROAD_MATCHES matches: the OR plan, count capped
    many_names: bool = False   # more than BROAD_MATCHES candidates' names match


def text_plan(q: str, actor: Actor | None = None) -> TextPlan:
    """Probe each field's matches from its index with a limit (a few ms): numbers
    starting with q, candidates whose name contains it, and interviews of positions whose
    title contains it in the actor's departments (a title broad elsewhere, in departments
    the actor cannot see, must not make the search broad: that walked a million
    interviews to find none). More than BROAD_MATCHES matches in all make the search
    broad."""
    pattern = _like_pattern(q)
    candidate = aliased(Candidate)
    probes = (
        select(Interview.id).where(
            func.lower(Interview.number).like(pattern.lower() + "%", escape="/")),
        select(candidate.id).where(candidate.name.ilike(f"%{pattern}%", escape="/")),
        select(Interview.id).where(Interview.position_id.in_(_titles(pattern, actor))),
    )
    found, names = 0, 0
    for index, probe in enumerate(probes):
        count = db.session.scalar(select(func.count()).select_from(
            probe.limit(BROAD_MATCHES + 1).subquery())) or 0
        if index == 1:
            names = count
        found += count
    return TextPlan(broad=found > BROAD_MATCHES, many_names=names > BROAD_MATCHES)


def _titles(pattern: str, actor: Actor | None):
    """The ids of the positions whose title contains the pattern, in the actor's
    departments (a title matching 50,000 interviews in other departments made the id
    set of a manager's search, and then found none of them)."""
    position = aliased(Position)
    ids = select(position.id).where(position.title.ilike(f"%{pattern}%", escape="/"))
    return ids if actor is None else ids.where(department_scope(actor, position))


def is_broad_search(q: str, actor: Actor | None = None) -> bool:
    """Whether the text matches more than BROAD_MATCHES interviews (text_plan)."""
    return text_plan(q, actor).broad


def _text_match(q: str, plan: TextPlan, actor: Actor | None = None):
    """Number starts with q, or candidate name or position title contains it (any case).

    Narrow (few matches): one id set per field, united, so that each field uses its own
    index (lower(number) text_pattern_ops; the candidate name's pg_trgm index, which
    serves ILIKE; positions are few), where an OR over the joined tables read every
    interview. The subqueries use aliases so that they never correlate with the outer
    query.

    Broad (more than BROAD_MATCHES matches): an id set that large is the cost (1.4 s
    united for 111,112 matches), so the match is an OR tested row by row while
    PostgreSQL walks the time index and stops at the page, or at the count's cap: the
    number, the position ids of matching titles (positions are few: a hashed subplan),
    and the candidate's name: the ids of the matching candidates when they are few (a
    hashed subplan), the joined candidate's name when they are many (the query must
    join candidates: see _count). Hashing 111,112 candidate ids cost 90 ms, built once
    for the count and once for the page; hashing a million (a fragment every name has)
    took 38 s; a few thousand primary-key lookups take 15-30 ms."""
    pattern = _like_pattern(q)
    candidate = aliased(Candidate)
    by_name = select(candidate.id).where(candidate.name.ilike(f"%{pattern}%", escape="/"))
    by_title = _titles(pattern, actor)
    if plan.broad:
        return or_(func.lower(Interview.number).like(pattern.lower() + "%", escape="/"),
                   Candidate.name.ilike(f"%{pattern}%", escape="/") if plan.many_names
                   else Interview.candidate_id.in_(by_name),
                   Interview.position_id.in_(by_title))
    by_number, by_candidate, by_position = (aliased(Interview) for _ in range(3))
    return Interview.id.in_(union(
        select(by_number.id).where(
            func.lower(by_number.number).like(pattern.lower() + "%", escape="/")),
        select(by_candidate.id).where(by_candidate.candidate_id.in_(by_name)),
        select(by_position.id).where(by_position.position_id.in_(by_title)),
    ))


def _count(conditions: list, filters: Filters | None, actor: Actor | None,
           cap: int | None = None, plan: TextPlan | None = None) -> int:
    """How many interviews match (with `cap`: at most cap + 1), joining positions only
    when a condition needs them (a department filter or a department scope) and
    candidates only when a broad search matches the joined name: counting a million
    rows through joins that cannot change the count took most of the list's time."""
    needs_position = bool(filters is not None and filters.department) or (
        actor is not None and Position.__table__ in find_tables(interview_scope(actor),
                                                               check_columns=True))
    ids = select(Interview.id)
    if needs_position:
        ids = ids.join(Interview.position)
    if plan is not None and plan.broad and plan.many_names:
        ids = ids.join(Interview.candidate)
    ids = ids.where(*conditions)
    if cap is not None:
        ids = ids.limit(cap + 1)
    return db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def list_interviews(q: str | None = None, status: InterviewStatus | None = None,
                    page: int = 1, per_page: int = PER_PAGE, *, actor: Actor | None = None,
                    filters: Filters | None = None) -> InterviewPage:
    """Interviews matching the search in the actor's scope, by time (newest first unless
    asked otherwise); pages past the end show the last."""
    if filters is not None:
        q, status = filters.q, filters.status
    text = (q or "").strip()[:MAX_QUERY_LENGTH]
    plan = text_plan(text, actor) if text else TextPlan()
    conditions = _filters(q, status, filters, plan, actor)
    if actor is not None:
        conditions.append(interview_scope(actor))
    ascending = filters is not None and filters.sort == "asc"
    order = ((Interview.scheduled_at.asc(), Interview.id.asc()) if ascending
             else (Interview.scheduled_at.desc(), Interview.id.desc()))
    # The initiator filter's match set is every interview's latest cancellation: counting
    # all of it read the cancellations twice and every interview (170-310 ms for 83,336
    # company cancels); its exact counts are the reports'. Counted up to the cap, as a
    # broad search is (8 ms).
    counted_to_cap = plan.broad or bool(filters is not None and filters.initiator)
    total = _count(conditions, filters, actor, BROAD_MATCHES if counted_to_cap else None,
                   plan)
    capped = counted_to_cap and total > BROAD_MATCHES
    total = min(total, BROAD_MATCHES) if counted_to_cap else total
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    interviews = db.session.scalars(
        select(Interview).join(Interview.candidate).join(Interview.position)
        .options(contains_eager(Interview.candidate), contains_eager(Interview.position))
        .where(*conditions)
        .order_by(*order)
        .limit(per_page).offset((page - 1) * per_page)).all()
    ids = [interview.id for interview in interviews]
    messages = messages_by_interview(ids)
    cancellations = latest_cancellations(ids)
    rows = [InterviewRow(interview, messages.get(interview.id, []),
                         cancellations.get(interview.id)) for interview in interviews]
    return InterviewPage(rows=rows, page=page, per_page=per_page, total=total, capped=capped)


def messages_by_interview(interview_ids: list[int]) -> dict[int, list[OutboxMessage]]:
    """Outbox messages of these interviews in one query, grouped by interview id."""
    grouped: dict[int, list[OutboxMessage]] = defaultdict(list)
    if not interview_ids:
        return grouped
    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.interview_id.in_(interview_ids))
        .order_by(OutboxMessage.created_at, OutboxMessage.id))
    for message in messages:
        grouped[message.interview_id].append(message)
    return grouped


def latest_cancellations(interview_ids: list[int]) -> dict[int, Cancellation]:
    """The most recent cancellation of each of these interviews, in one query."""
    if not interview_ids:
        return {}
    latest_ids = (select(func.max(Cancellation.id))
                  .where(Cancellation.interview_id.in_(interview_ids))
                  .group_by(Cancellation.interview_id))
    cancellations = db.session.scalars(
        select(Cancellation).options(joinedload(Cancellation.reason))
        .where(Cancellation.id.in_(latest_ids)))
    return {cancellation.interview_id: cancellation for cancellation in cancellations}


def get_interview_detail(public_id: str, actor: Actor | None = None
                         ) -> InterviewDetail | None:
    """The interview with its cancellations, messages and audit trail; None if unknown or
    outside the actor's scope."""
    stmt = (select(Interview).join(Interview.position)
            .options(joinedload(Interview.candidate), contains_eager(Interview.position))
            .where(Interview.public_id == public_id))
    if actor is not None:
        stmt = stmt.where(interview_scope(actor))
    interview = db.session.scalars(stmt).one_or_none()
    if interview is None:
        return None
    cancellations = db.session.scalars(
        select(Cancellation).options(joinedload(Cancellation.reason))
        .where(Cancellation.interview_id == interview.id)
        .order_by(Cancellation.requested_at.desc(), Cancellation.id.desc())).all()
    messages = messages_by_interview([interview.id]).get(interview.id, [])
    audit_entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "interview", AuditEntry.object_id == interview.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())).all()
    hr_ids = ({interview.interviewer_id}
              | {c.actor_id for c in cancellations if c.actor_type == "hr"}
              | {a.actor_id for a in audit_entries if a.actor_type == "hr"}
              | {m.recipient_id for m in messages if m.recipient_type in ("hr", "hr_user")})
    return InterviewDetail(interview, cancellations, messages, audit_entries,
                           hr_display_names(hr_ids))


def hr_display_names(user_ids: set[int | None]) -> dict[int, str]:
    """Display names of these HR users in one query."""
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return {}
    rows = db.session.execute(
        select(HrUser.id, HrUser.display_name).where(HrUser.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


def candidate_id_of(public_id: str, actor: Actor | None = None) -> int | None:
    """The candidate of an interview in the actor's scope, without loading its detail."""
    stmt = (select(Interview.candidate_id).join(Interview.position)
            .where(Interview.public_id == public_id))
    if actor is not None:
        stmt = stmt.where(interview_scope(actor))
    return db.session.scalar(stmt)


def filter_choices(actor: Actor) -> dict:
    """Departments and positions the actor may filter by, and the initiators."""
    stmt = select(Position).order_by(Position.department, Position.title)
    if actor.departments is not None:
        stmt = stmt.where(Position.department.in_(sorted(actor.departments)))
    positions = db.session.scalars(stmt).all()
    return {"departments": sorted({p.department for p in positions}),
            "positions": positions, "initiators": list(ActorType)}


# --- export: the same search, every row, streamed -----------------------------------------

EXPORT_CHUNK_ROWS = 1000


def iter_interviews(actor: Actor, filters: Filters, chunk: int = EXPORT_CHUNK_ROWS):
    """Every interview the list would show for these filters (same conditions, scope and
    order), as flat rows with the latest cancellation, fetched `chunk` rows at a time
    from a server-side cursor: an export of 100,000 rows never holds them all."""
    from sqlalchemy.orm import aliased

    from app.models import CancelReason

    conditions = [*_filters(filters.q, filters.status, filters, actor=actor),
                  interview_scope(actor)]
    later = aliased(Cancellation)
    latest = (select(func.max(later.id)).where(later.interview_id == Interview.id)
              .correlate(Interview).scalar_subquery())
    order = ((Interview.scheduled_at.asc(), Interview.id.asc()) if filters.sort == "asc"
             else (Interview.scheduled_at.desc(), Interview.id.desc()))
    stmt = (select(Interview.number, Candidate.name.label("candidate"),
                   Position.title, Position.department, Interview.scheduled_at,
                   Interview.status, Cancellation.actor_type, CancelReason.label.label("reason"),
                   Cancellation.note,
                   func.coalesce(Cancellation.decided_at, Cancellation.requested_at)
                   .label("cancelled_at"))
            .select_from(Interview)
            .join(Candidate, Candidate.id == Interview.candidate_id)
            .join(Position, Position.id == Interview.position_id)
            .outerjoin(Cancellation, Cancellation.id == latest)
            .outerjoin(CancelReason, CancelReason.id == Cancellation.reason_id)
            .where(*conditions).order_by(*order)
            .execution_options(yield_per=chunk))
    yield from db.session.execute(stmt)
