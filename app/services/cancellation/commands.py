"""The use cases: read the facts, decide (policy), write (write.py), in one transaction
on the request's or job's one connection (app.core.transaction).

A write that loses a race (the interview changed after the read) wrote nothing: the use
case reads again and decides again on the state that won, so a candidate whose cancel
met a concurrent confirm or reschedule still gets their cancel, and one that met another
cancel hears `already_cancelled`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time

from app.core import transaction
from app.core.errors import AppError
from app.core.timeutil import SHANGHAI, local, utcnow
from app.extensions import db
from app.models import CancellationState, InterviewStatus
from app.services import webhooks
from app.services.cancellation import facts as read
from app.services.cancellation import policy, write
from app.services.cancellation.facts import InterviewFacts, ReasonFacts
from app.services.interviews.errors import InterviewNotFound
from app.services.notifications import outbox
from app.services.rules import Rules, get_rules, rules_from
from app.services.rules.calendar import add_working_days
from app.services.users.actor import Actor

log = logging.getLogger(__name__)
RACE_RETRIES = 5


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


# --- the candidate's two taps (the hot path) ---------------------------------------------

_SQLITE_READ = None


def _candidate_read(unit, dialect):
    if unit.postgres:
        return write.prepared(dialect, "candidate-read", lambda name: read.candidate_read_statement(
            name, _serial_sequence(unit.conn, "cancellations")))
    global _SQLITE_READ
    if _SQLITE_READ is None:
        _SQLITE_READ = read.candidate_read_statement("sqlite")
    return _SQLITE_READ


def _serial_sequence(driver_connection, table: str) -> str:
    """The sequence behind `table`.id (looked up once: the function behind it reads the
    catalogs, which costs more than the rest of the read)."""
    with driver_connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
        return cursor.fetchone()[0]


def cancel_by_candidate(*, candidate_id: int, interview_public_id: str, reason_code: str,
                        note: str | None = None, now: datetime | None = None,
                        ip: str | None = None, request_id: str | None = None
                        ) -> CancelOutcome:
    """A candidate cancels their interview: cancelled at once, or a request for HR review
    when the position requires review (or, as configured, when the self-service deadline
    has passed). Refused after the deadline otherwise."""
    now = now or utcnow()
    actor = Actor.candidate(candidate_id).from_ip(ip).in_request(request_id)
    dialect = db.engine.dialect
    query = {"q_candidate_id": candidate_id, "q_public_id": interview_public_id,
             "q_reason_code": reason_code}
    for _attempt in range(RACE_RETRIES):
        try:
            with transaction.single_statement() as unit:
                statement = _candidate_read(unit, dialect)
                row = (statement.first(unit.conn, query) if unit.postgres
                       else unit.conn.execute(statement, query).first())
                if row is None:
                    raise InterviewNotFound()
                found = read.candidate_facts_from_row(row)
                rules = rules_from(found.stored_rules)
                decision = policy.decide_cancel(found.interview, actor, found.reason, note,
                                                rules, now)
                cancellation_id = write.apply_one(
                    unit.conn, dialect, decision,
                    endpoint_ids=webhooks.endpoints_subscribed(found.webhook_endpoints,
                                                               decision.event_type),
                    context=write.message_context(decision.after,
                                                  reason_label=decision.reason.label,
                                                  note=decision.note or ""),
                    next_cancellation_id=found.next_cancellation_id)
        except write.LostRace:
            continue  # decide again on the state that won
        outbox.wake_dispatcher()
        return CancelOutcome(decision.after, cancellation_id, decision.state,
                             decision.reason, decision.note, rules)
    raise RuntimeError("cancel kept losing races")  # pragma: no cover


# --- HR cancels one ------------------------------------------------------------------------

def reschedule_deadline(now: datetime, rules: Rules) -> datetime:
    """The end (Asia/Shanghai) of the N-th working day after today: when the promised new
    slot must have been offered."""
    day = add_working_days(local(now).date(), rules.reschedule_window_working_days)
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def cancel_by_hr(actor: Actor, interview_public_id: str, *, reason_code: str | None,
                 note: str | None = None, notify: frozenset[str] | None = None,
                 reschedule: bool = False, now: datetime | None = None) -> CancelOutcome:
    """An HR user (or the company's system: Actor.integration, an API key) cancels one
    interview with a company-side reason: the candidate gets the "cancelled by the company"
    message, the chosen team members are told, webhooks fire.
    With `reschedule`, the promise to offer a new slot within N working days is kept."""
    now = now or utcnow()
    dialect = db.engine.dialect
    for _attempt in range(RACE_RETRIES):
        try:
            with transaction.session_unit() as unit:
                connection = unit.sa
                interview = read.read_interview(connection, interview_public_id)
                if interview is None:
                    raise InterviewNotFound()
                reason = read.read_reason(connection, reason_code)
                rules = get_rules()
                decision = policy.decide_cancel(
                    interview, actor, reason, note, rules, now, notify=notify,
                    reschedule_by=reschedule_deadline(now, rules) if reschedule else None)
                endpoints = webhooks.active_endpoints(connection)
                cancellation_id = write.apply_one(
                    unit.conn, dialect, decision,
                    endpoint_ids=[e for e, events in endpoints
                                  if decision.event_type in events],
                    context=write.decision_context(decision, rules.hr_contact,
                                                   rules.reschedule_window_working_days))
        except write.LostRace:
            continue
        outbox.wake_dispatcher()
        log.info("interview cancelled by %s id=%s interview_id=%s", actor.type.value,
                 actor.id, interview.id)
        return CancelOutcome(decision.after, cancellation_id, decision.state,
                             decision.reason, decision.note, rules)
    raise RuntimeError("cancel kept losing races")  # pragma: no cover


def hr_can_cancel(actor: Actor, interview, now: datetime | None = None) -> bool:
    """Whether the console shows 取消面试 for this user and interview."""
    return actor.can("cancel") and policy.can_cancel(interview, actor, get_rules(),
                                                     now or utcnow())


def candidate_can_cancel(interview, rules: Rules, now: datetime) -> bool:
    """The candidate API's can_cancel: the same decision as the POST."""
    return policy.can_cancel(interview, Actor.candidate(interview.candidate_id), rules, now)


# --- approvals -----------------------------------------------------------------------------

def _decide_request(actor: Actor, cancellation_id: int, action: policy.ApprovalAction,
                    comment: str | None, now: datetime | None, *,
                    decide=None) -> policy.ApprovalOutcome:
    """Read the request, decide (policy.decide_approval, or `decide(request, rules)`),
    write; a lost race reads and decides again."""
    now = now or utcnow()
    for _attempt in range(RACE_RETRIES):
        try:
            with transaction.transaction() as connection:
                request = read.read_request(connection, cancellation_id)
                if request is None:
                    raise InterviewNotFound("未找到该取消申请", code="request_not_found")
                rules = get_rules()
                outcome = (decide(request, rules) if decide is not None else
                           policy.decide_approval(request, actor, action, comment, now))
                context = write.message_context(
                    request.interview, reason_label=request.reason.label,
                    note=request.note or "", comment=outcome.comment or "",
                    hr_contact=rules.hr_contact)
                endpoints = webhooks.active_endpoints(connection)
                write.apply_approval(connection, outcome, context=context,
                                     endpoint_ids=[e for e, events in endpoints
                                                   if outcome.event_type in events])
        except write.LostRace:
            continue
        if outcome.recipients:
            outbox.wake_dispatcher()
        return outcome
    raise RuntimeError("approval kept losing races")  # pragma: no cover


def approve(actor: Actor, cancellation_id: int, comment: str | None = None,
            now: datetime | None = None) -> policy.ApprovalOutcome:
    """Approve the request's current level; the final level cancels the interview."""
    return _decide_request(actor, cancellation_id, policy.ApprovalAction.APPROVE, comment, now)


def reject(actor: Actor, cancellation_id: int, comment: str | None,
           now: datetime | None = None) -> policy.ApprovalOutcome:
    """Reject (a comment is required): the interview returns to its status before the
    request and the candidate is told why."""
    return _decide_request(actor, cancellation_id, policy.ApprovalAction.REJECT, comment, now)


def settle_unanswered(cancellation_id: int, now: datetime | None = None
                      ) -> policy.ApprovalOutcome:
    """At the interview's start the system settles a request nobody decided, by the rule
    unanswered_request_at_start (approve: cancelled by the system; reject: kept)."""
    now = now or utcnow()
    actor = Actor.system(SETTLE_RULE)
    return _decide_request(actor, cancellation_id, policy.ApprovalAction.APPROVE, None, now,
                           decide=lambda request, rules: policy.decide_settlement(
                               request, actor, rules.unanswered_request_at_start, now))


SETTLE_RULE = "unanswered_request_at_start"


def settle_for_erasure(interview_id: int, now: datetime) -> int:
    """The interview's open cancel request approved by the system because the candidate's
    erasure request reached its deadline (system.cancel_for_erasure); 1 when settled, 0
    when there was none (decided meanwhile)."""
    from app.services.cancellation.system import ERASURE_RULE

    with transaction.transaction() as connection:
        cancellation_id = read.latest_request_id(connection, interview_id)
    if cancellation_id is None:
        return 0
    actor = Actor.system(ERASURE_RULE)
    try:
        _decide_request(actor, cancellation_id, policy.ApprovalAction.APPROVE, None, now,
                        decide=lambda request, rules: policy.decide_settlement(
                            request, actor, policy.SETTLE_ERASURE, now))
    except AppError:
        return 0   # decided meanwhile
    return 1


def ask_for_detail(actor: Actor, cancellation_id: int, comment: str | None,
                   now: datetime | None = None) -> policy.ApprovalOutcome:
    """Ask the candidate to add to their reason; the request leaves the queue until they
    answer."""
    return _decide_request(actor, cancellation_id, policy.ApprovalAction.ASK_DETAIL, comment,
                           now)


def answer_detail(*, candidate_id: int, interview_public_id: str, note: str | None,
                  now: datetime | None = None, ip: str | None = None) -> None:
    """The candidate adds to their reason as HR asked; the request returns to the queue
    and the team is told."""
    now = now or utcnow()
    with transaction.transaction() as connection:
        interview = read.read_interview(connection, interview_public_id, candidate_id)
        if interview is None:
            raise InterviewNotFound()
        request_id = read.latest_request_id(connection, interview.id)
        request = read.read_request(connection, request_id) if request_id else None
        rules = get_rules()
        answer = policy.check_detail_answer(request, note, rules)
        write.apply_detail_answer(connection, request, answer, now=now, context=(
            write.message_context(interview, reason_label=request.reason.label,
                                  note=answer)), ip=ip)
    outbox.wake_dispatcher()
