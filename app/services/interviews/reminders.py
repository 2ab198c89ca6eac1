"""The confirmation reminder: an interview still 待确认 gets one candidate_confirm_reminder
reminder_lead_hours before its confirmation deadline (the deadline auto-cancel uses:
confirm_by, or the invitation plus the position's hours).

Once per interview and deadline: a confirm_reminders row (interview, deadline) is the
claim; only the writer whose INSERT took it queues the message (and its outbox dedupe key
would drop a repeat anyway). A rescheduled interview with a new deadline gets a new one.

Traps: a deadline already passed gets no reminder (auto-cancel is due instead); an
interview starting before its reminder time still gets it once its time comes, if the
deadline has not passed; whether a queued reminder still goes out once the interview is
cancelled or rescheduled is decided at dispatch (app.services.notifications.dispatch).
"""
from __future__ import annotations

import operator
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from app.core import fencing, sqlwrite, transaction
from app.core.timeutil import iso
from app.models import ConfirmReminder, Interview, InterviewStatus, Position
from app.services.cancellation import facts as read
from app.services.cancellation import write
from app.services.cancellation.system import deadline_compare, deadline_of
from app.services.notifications import outbox
from app.services.rules import get_rules

REMINDER_KIND = "candidate_confirm_reminder"
CHUNK = 1000


def send_confirmation_reminders(now: datetime) -> int:
    """Queue the reminder of every interview whose reminder time has come and whose
    deadline has not passed; returns how many were queued by this run."""
    rules = get_rules()
    lead = timedelta(hours=rules.reminder_lead_hours)
    due = (select(Interview.id, Interview.confirm_by, Interview.created_at,
                  Position.auto_cancel_unconfirmed_hours)
           .join(Position, Position.id == Interview.position_id)
           .where(Interview.status == InterviewStatus.SCHEDULED,
                  Interview.scheduled_at > now,
                  deadline_compare(operator.le, now + lead, rules),   # reminder time came
                  deadline_compare(operator.gt, now, rules)))         # deadline not passed
    queued = 0
    after_id = 0
    while not fencing.should_stop():   # a later run took over, or the worker stops
        with transaction.transaction() as connection:
            rows = _chunk(connection, due, after_id)
            if not rows:
                break
            after_id = max(r.id for r in rows)
            deadlines = {r.id: deadline_of(r.confirm_by, r.created_at,
                                           r.auto_cancel_unconfirmed_hours, rules)
                         for r in rows}
            taken = {i for (i,) in sqlwrite.insert_set(
                connection, ConfirmReminder.__table__,
                [dict(interview_id=i, confirm_by=d, queued_at=now)
                 for i, d in deadlines.items()],
                conflict=("interview_id", "confirm_by"), returning=("interview_id",))}
            messages = []
            for interview in read.read_interviews(connection, ids=sorted(taken)):
                deadline = deadlines[interview.id]
                context = write.message_context(
                    interview, confirm_by=iso(deadline),
                    auto_cancel_hours=rules.auto_cancel_unconfirmed_hours)
                messages.append(outbox.message_row(
                    event=f"interview.confirm_reminder:{interview.id}:"
                          f"{int(deadline.timestamp())}",
                    kind=REMINDER_KIND, recipient_type="candidate",
                    recipient_id=interview.candidate.id, interview_id=interview.id,
                    context=context, now=now))
            outbox.write(connection, messages)
        queued += len(messages)
        if messages:
            outbox.wake_dispatcher()
        if len(rows) < CHUNK:
            break
    return queued


def _chunk(connection, due, after_id: int):
    """The next CHUNK due interviews not reminded yet for this deadline (by id)."""
    stmt = (due.where(Interview.id > after_id,
                      ~exists().where(ConfirmReminder.interview_id == Interview.id,
                                      ConfirmReminder.confirm_by == Interview.confirm_by))
            .order_by(Interview.id).limit(CHUNK))
    return connection.execute(stmt).all()
