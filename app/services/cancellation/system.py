"""Cancels made by the system, on the same policy and writer as HR's and batches.

`auto_cancel_unconfirmed`: an interview still 待确认 (scheduled, not confirmed) after its
confirmation deadline is cancelled with the reason 超时未确认; the candidate and the team
are told. The deadline is the interview's confirm_by, or, without one, the invitation
(created_at) plus the position's auto_cancel_unconfirmed_hours, or the rules' when the
position sets none. Chunks of write.CHUNK rows,
each its own transaction with the rows locked, so any number of workers may run it: an
interview is cancelled once (the lock and the policy's status check), and a second run
finds nothing to do.
"""
from __future__ import annotations

import operator
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from app.core import collector, fencing, transaction
from app.core.errors import AppError
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import CancelReason, Interview, InterviewStatus, Position, ReasonActor
from app.services import webhooks
from app.services.cancellation import facts as read
from app.services.cancellation import policy, write
from app.services.notifications import outbox
from app.services.rules import get_rules
from app.services.users.actor import Actor

AUTO_CANCEL_RULE = "auto_cancel_unconfirmed"
UNCONFIRMED_REASON = ("unconfirmed_timeout", "超时未确认", "system")


ERASURE_RULE = "privacy_erasure_deadline"
ERASURE_REASON = ("privacy_erasure", "候选人申请删除个人信息", "system")


def unconfirmed_reason() -> read.ReasonFacts:
    """The reason of auto_cancel_unconfirmed (system_reason)."""
    return system_reason(UNCONFIRMED_REASON)


def system_reason(spec: tuple[str, str, str]) -> read.ReasonFacts:
    """The reason (code, label, category) a system cancel gives, created the first time
    it is needed (HR may rename it; its code stays; reasons.SYSTEM_CODES keeps it
    active)."""
    code, label, category = spec
    found = read.read_reason(db.session.connection(), code)
    if found is None:
        db.session.add(CancelReason(code=code, label=label, category=category,
                                    actor=ReasonActor.COMPANY, requires_note=False,
                                    sort_order=1000, active=True))
        db.session.commit()
        found = read.read_reason(db.session.connection(), code)
    return found


def deadline_compare(compare, value: datetime, rules):
    """SQL (over Interview joined with Position): compare(the confirmation deadline,
    value), the deadline being confirm_by, or else the invitation plus the position's
    hours (the rule's where it sets none). One condition per distinct override, so the
    comparison stays plain SQL on every database. `compare`: operator.lt, le, gt, ..."""
    overrides = db.session.scalars(
        select(Position.auto_cancel_unconfirmed_hours).distinct()
        .where(Position.auto_cancel_unconfirmed_hours.is_not(None))).all()
    invited = [and_(Position.auto_cancel_unconfirmed_hours.is_(None),
                    compare(Interview.created_at,
                            value - timedelta(hours=rules.auto_cancel_unconfirmed_hours)))]
    invited += [and_(Position.auto_cancel_unconfirmed_hours == hours,
                     compare(Interview.created_at, value - timedelta(hours=hours)))
                for hours in overrides]
    return or_(compare(Interview.confirm_by, value),
               and_(Interview.confirm_by.is_(None), or_(*invited)))


def deadline_of(confirm_by: datetime | None, created_at: datetime,
                position_hours: int | None, rules) -> datetime:
    """The same deadline for one interview, in Python."""
    if confirm_by is not None:
        return confirm_by
    return created_at + timedelta(hours=position_hours or rules.auto_cancel_unconfirmed_hours)


def _write(connection, decisions: list, rules) -> None:
    """A system cancel's decisions written as one chunk, with the webhook endpoints
    active now and each decision's message context."""
    endpoints = [{"id": e, "events": events}
                 for e, events in webhooks.active_endpoints(connection)]
    write.apply_chunk(connection, decisions, endpoints=endpoints,
                      contexts=lambda d: write.decision_context(
                          d, rules.hr_contact, rules.reschedule_window_working_days))


def auto_cancel_unconfirmed(now: datetime | None = None) -> int:
    """Cancel every interview left unconfirmed past its deadline (exactly at the deadline
    it still stands); returns how many."""
    now = now or utcnow()
    rules = get_rules()
    reason = unconfirmed_reason()
    actor = Actor.system(AUTO_CANCEL_RULE)
    overdue = (select(Interview.id)
               .join(Position, Position.id == Interview.position_id)
               .where(Interview.status == InterviewStatus.SCHEDULED,
                      Interview.scheduled_at > now,
                      deadline_compare(operator.lt, now, rules))
               .order_by(Interview.scheduled_at, Interview.id).limit(write.CHUNK))
    cancelled = 0
    while not fencing.should_stop():   # a later run took over, or the worker stops
        with collector.paused(), transaction.transaction() as connection:
            ids = connection.execute(overdue).scalars().all()
            if not ids:
                break
            decisions = []
            for interview in read.read_interviews(connection, ids=ids, for_update=True):
                try:
                    decisions.append(policy.decide_cancel(interview, actor, reason, None,
                                                          rules, now))
                except AppError:
                    continue  # confirmed or cancelled meanwhile: the state that won stands
            _write(connection, decisions, rules)
        cancelled += len(decisions)
        if not decisions:
            break  # every row of the chunk was taken by another writer: next run
        outbox.wake_dispatcher()
    return cancelled


def cancel_for_erasure(candidate_id: int, now: datetime | None = None) -> int:
    """Before a candidate's data is erased at their erasure request's deadline, end
    their interviews that are not over yet, as the system with the reason
    候选人申请删除个人信息, the team told (policy.TEAM_ONLY) and the freed places offered as
    any: a scheduled or confirmed interview is cancelled; a cancel request still open is
    approved (the candidate had said they will not come). Its own transaction; returns
    how many interviews it ended. HR's 立即删除 refuses instead (privacy.erase_by_hr):
    HR cancels first, telling the candidate."""
    from app.services.cancellation.commands import settle_for_erasure

    now = now or utcnow()
    rules = get_rules()
    reason = system_reason(ERASURE_REASON)
    actor = Actor.system(ERASURE_RULE)
    pending = []
    with transaction.transaction() as connection:
        decisions = []
        for interview in read.read_interviews(connection, candidate_id=candidate_id,
                                              for_update=True):
            if interview.status == InterviewStatus.CANCEL_PENDING:
                pending.append(interview.id)
                continue
            if interview.status not in (InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED):
                continue
            try:
                decisions.append(policy.decide_cancel(interview, actor, reason, None, rules,
                                                      now, notify=policy.TEAM_ONLY))
            except AppError:
                continue  # not cancellable any more (it has started): it ends on its own
        _write(connection, decisions, rules)
    settled = sum(settle_for_erasure(interview_id, now) for interview_id in pending)
    if decisions:
        outbox.wake_dispatcher()
    return len(decisions) + settled
