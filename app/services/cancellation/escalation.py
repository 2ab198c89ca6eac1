"""Requests nobody decided (two system jobs).

- `escalate_pending(now)`: a candidate's request still open (under review, or waiting for
  the candidate's detail) when the interview starts within escalation_lead_hours goes to
  the recruiting managers of the position's department (the admins when it has none):
  one staff_request_escalated message each and one audit entry, once per request (a
  request_escalations row: only the writer whose INSERT took it queues anything, and the
  outbox dedupe key would drop a repeat anyway).
- `settle_started(now)`: at the start, each request still open is settled by the rule
  unanswered_request_at_start through the approval core (commands.settle_unanswered, a
  system actor): approved, the system cancels; rejected, the interview stays.

Traps: an interview already started is not escalated (it is settled instead); a request
decided between the read and the write loses its race in the core and is skipped.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from app.core import fencing, sqlwrite, transaction
from app.core.errors import AppError
from app.models import (
    Cancellation,
    CancellationState,
    CancelReason,
    HrUser,
    HrUserDepartment,
    Interview,
    InterviewStatus,
    Position,
    RequestEscalation,
    Role,
)
from app.services import audit
from app.services.cancellation import commands, write
from app.services.cancellation import facts as read
from app.services.notifications import outbox
from app.services.rules import get_rules

log = logging.getLogger(__name__)
ESCALATE_RULE = "escalation_lead_hours"
ESCALATED_KIND = "staff_request_escalated"
OPEN_STATES = (CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED)
CHUNK = 500


def _open_requests():
    return (select(Cancellation.id, Cancellation.interview_id, Position.department,
                   CancelReason.label.label("reason_label"))
            .join(Interview, Interview.id == Cancellation.interview_id)
            .join(CancelReason, CancelReason.id == Cancellation.reason_id)
            .join(Position, Position.id == Interview.position_id)
            .where(Cancellation.state.in_(OPEN_STATES),
                   Interview.status == InterviewStatus.CANCEL_PENDING))


def managers_of(connection, departments: set[str]) -> dict[str, list[int]]:
    """Active recruiting managers per department; departments without one get the active
    admins (someone must hear of it)."""
    rows = connection.execute(
        select(HrUserDepartment.department, HrUser.id)
        .join(HrUser, HrUser.id == HrUserDepartment.user_id)
        .where(HrUserDepartment.department.in_(sorted(departments)),
               HrUser.role == Role.RECRUITING_MANAGER, HrUser.active.is_(True))
        .order_by(HrUser.id)).all()
    found: dict[str, list[int]] = {d: [] for d in departments}
    for department, user_id in rows:
        found[department].append(user_id)
    if any(not ids for ids in found.values()):
        admins = list(connection.execute(select(HrUser.id).where(
            HrUser.role == Role.ADMIN, HrUser.active.is_(True)).order_by(HrUser.id)).scalars())
        for ids in found.values():
            if not ids:
                ids.extend(admins)
    return found


def escalate_pending(now: datetime) -> int:
    """Escalate every open request whose interview starts within the lead; returns how
    many requests were escalated by this run."""
    rules = get_rules()
    due = (_open_requests()
           .where(Interview.scheduled_at > now,
                  Interview.scheduled_at <= now + timedelta(hours=rules.escalation_lead_hours),
                  ~exists().where(RequestEscalation.cancellation_id == Cancellation.id))
           .order_by(Interview.scheduled_at, Cancellation.id).limit(CHUNK))
    escalated = 0
    while not fencing.should_stop():   # a later run took over, or the worker stops
        with transaction.transaction() as connection:
            rows = connection.execute(due).all()
            if not rows:
                break
            managers = managers_of(connection, {r.department for r in rows})
            taken = {cid for (cid,) in sqlwrite.insert_set(
                connection, RequestEscalation.__table__,
                [dict(cancellation_id=r.id, escalated_at=now,
                      managers=len(managers[r.department])) for r in rows],
                conflict=("cancellation_id",), returning=("cancellation_id",))}
            facts = {f.id: f for f in read.read_interviews(
                connection, ids=[r.interview_id for r in rows if r.id in taken])}
            messages, entries = [], []
            for r in rows:
                if r.id not in taken:
                    continue  # another worker escalated it first
                interview = facts[r.interview_id]
                event = f"interview.cancel_request_escalated:{r.id}"
                # the candidate's reason: what the manager decides on
                context = write.message_context(
                    interview, reason_label=r.reason_label,
                    lead_hours=rules.escalation_lead_hours, cancellation_id=r.id)
                messages += [outbox.message_row(
                    event=event, kind=ESCALATED_KIND, recipient_type="hr_user",
                    recipient_id=user_id, interview_id=interview.id, context=context, now=now)
                    for user_id in managers[r.department]]
                entries.append(audit.entry_row(
                    actor_type="system", actor_id=None,
                    action="interview.cancel_request_escalated", object_type="interview",
                    object_id=interview.id,
                    data={"cancellation_id": r.id, "number": interview.number,
                          "rule": ESCALATE_RULE, "managers": managers[r.department],
                          "lead_hours": rules.escalation_lead_hours}, at=now))
            outbox.write(connection, messages)
            audit.write(connection, entries)
        escalated += len(taken)
        if messages:
            outbox.wake_dispatcher()
        if len(rows) < CHUNK:
            break
    return escalated


def settle_started(now: datetime) -> int:
    """Settle every open request whose interview has started; returns how many."""
    due = (_open_requests().where(Interview.scheduled_at <= now)
           .order_by(Interview.scheduled_at, Cancellation.id).limit(CHUNK))
    settled = 0
    skipped: set[int] = set()
    while not fencing.should_stop():
        with transaction.transaction() as connection:
            ids = [r.id for r in connection.execute(
                due.where(Cancellation.id.not_in(sorted(skipped))) if skipped else due)]
        if not ids:
            break
        for cancellation_id in ids:
            try:
                commands.settle_unanswered(cancellation_id, now)
                settled += 1
            except AppError as exc:  # decided meanwhile: the decision that won stands
                log.info("request %s not settled: %s", cancellation_id, exc.code)
                skipped.add(cancellation_id)
        if len(ids) < CHUNK:
            break
    return settled
