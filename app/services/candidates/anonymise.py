"""Erasing a candidate's personal data (PIPL): the retention job and erasure requests
both come here.

What goes: name (replaced by 已匿名化), phone (ciphertext and lookup hash), e-mail, the ATS
reference, the WeChat bindings (accounts unlinked, their sessions revoked, subscription
credits of their openids deleted), cancellation notes and answers, feedback text, and
the personal facts in messages (openid/phone/e-mail address sent to, names and notes in
the message context), HR's replies to the candidate's feedback, and the name in webhook
deliveries about their interviews. What stays: every interview, cancellation, outbox and feedback
row, so reports count exactly what they counted before; one audit entry per candidate
naming the trigger, never the data.

Traps:
- the audit log is append-only and hash-chained: entries written before the erasure are
  not rewritten (they hold actions and reason codes; notes typed by candidates are not
  copied into new entries from here on);
- idempotent: the CandidateAnonymisation marker is written first and a conflicting one
  means another worker did it (PostgreSQL: it waits for that commit, then skips; SQLite
  refuses the second writer's commit, and the job retries its batch);
- a candidate is due once the end of their last interview (its cancellation time, or its
  start) lies MORE than retention_days in the past and nothing is still open (scheduled,
  confirmed, cancel request pending; nor on a waiting list, holding a slot offer or
  waiting for a promised new slot); exactly retention_days ago is not yet due.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Text, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from app.core import sqlwrite
from app.extensions import db
from app.models import (
    Cancellation,
    Candidate,
    CandidateAnonymisation,
    ErasureRequest,
    ErasureStatus,
    Feedback,
    FeedbackReply,
    Interview,
    InterviewStatus,
    OutboxMessage,
    Subscription,
    WebhookDelivery,
    WechatAccount,
)
from app.models.backfill import (
    OfferState,
    PromiseState,
    ReschedulePromise,
    SlotOffer,
    WaitlistEntry,
    WaitlistState,
)
from app.services import audit

ANONYMOUS_NAME = "已匿名化"
ERASED_TEXT = "（已删除）"
# message context keys that carry personal facts (templates_msg reads them)
PERSONAL_CONTEXT_KEYS = ("candidate_name", "note", "comment", "answer", "phone", "email")
OPEN_STATUSES = (InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED,
                 InterviewStatus.CANCEL_PENDING)


def anonymise(candidate_id: int, now: datetime, *, trigger: str,
              request: ErasureRequest | None = None, actor_type: str = "system",
              actor_id: int | None = None, ip: str | None = None) -> bool:
    """Erase one candidate's personal data in the caller's transaction; False when it was
    already done."""
    from app.services.candidates.sessions import revoke_sessions

    candidate = db.session.get(Candidate, candidate_id, with_for_update=True)
    if candidate is None:
        return False
    # The marker first, skipping a conflict: of two workers at once one writes it (the
    # other waits for its commit on PostgreSQL, then skips).
    claimed = sqlwrite.insert_set(db.session.connection(), CandidateAnonymisation.__table__, [
        {"candidate_id": candidate_id, "anonymised_at": now, "trigger": trigger,
         "erasure_request_id": request.id if request else None}],
        conflict=("candidate_id",), returning=("candidate_id",))
    if not claimed:
        _close_request(request, now, actor_id)
        return False
    candidate.name = ANONYMOUS_NAME
    candidate.phone = None
    candidate.email = None
    candidate.external_ref = None
    accounts = db.session.scalars(select(WechatAccount).where(
        WechatAccount.candidate_id == candidate_id)).all()
    openids = [a.openid for a in accounts]
    for account in accounts:
        revoke_sessions(account.id)
        account.candidate_id = None
        account.session_key_encrypted = None
    if openids:
        db.session.execute(delete(Subscription).where(Subscription.openid.in_(openids)))
    iv_ids = list(db.session.scalars(select(Interview.id).where(
        Interview.candidate_id == candidate_id)))
    if iv_ids:
        db.session.execute(update(Cancellation).where(Cancellation.interview_id.in_(iv_ids))
                           .values(note=None, detail_answer=None, detail_question=None)
                           .execution_options(synchronize_session=False))
    db.session.execute(update(Feedback).where(Feedback.candidate_id == candidate_id)
                       .values(content=ERASED_TEXT).execution_options(synchronize_session=False))
    db.session.execute(update(FeedbackReply).where(FeedbackReply.feedback_id.in_(
        select(Feedback.id).where(Feedback.candidate_id == candidate_id)))
        .values(content=ERASED_TEXT).execution_options(synchronize_session=False))
    _blank_messages(candidate_id, iv_ids)
    _blank_webhook_payloads(candidate_id)
    _close_request(request, now, actor_id)
    audit.record(actor_type=actor_type, actor_id=actor_id, action="candidate.anonymised",
                 object_type="candidate", object_id=candidate_id, ip=ip,
                 data={"trigger": trigger,
                       "rule": "privacy_retention" if trigger == "retention"
                       else "privacy_erasure_request",
                       "interviews": len(iv_ids), "wechat_accounts": len(accounts)})
    return True


def _close_request(request: ErasureRequest | None, now: datetime, actor_id: int | None):
    if request is not None and request.status == ErasureStatus.PENDING:
        request.status = ErasureStatus.DONE
        request.completed_at = now
        request.completed_by = actor_id


def _blank_messages(candidate_id: int, iv_ids: list[int]) -> None:
    about = or_(and_(OutboxMessage.recipient_type == "candidate",
                     OutboxMessage.recipient_id == candidate_id),
                OutboxMessage.interview_id.in_(iv_ids) if iv_ids else False)
    for row in db.session.scalars(select(OutboxMessage).where(about)):
        context = dict(row.context or {})
        if any(k in context for k in PERSONAL_CONTEXT_KEYS):
            for key in PERSONAL_CONTEXT_KEYS:
                context.pop(key, None)
            context["candidate_name"] = ANONYMOUS_NAME
            row.context = context
        if row.recipient_type == "candidate":
            row.touser = None


def _blank_webhook_payloads(candidate_id: int) -> None:
    """Webhook deliveries about the candidate's interviews carry their name: replaced (the
    interview's opaque public id is unique, so a text match on it finds them)."""
    public_ids = db.session.scalars(select(Interview.public_id).where(
        Interview.candidate_id == candidate_id)).all()
    for public_id in public_ids:
        for delivery in db.session.scalars(select(WebhookDelivery).where(
                cast(WebhookDelivery.payload, Text).like(f'%"{public_id}"%'))):
            body = dict(delivery.payload or {})
            person = body.get("candidate")
            if isinstance(person, dict) and "name" in person:
                body["candidate"] = {**person, "name": ANONYMOUS_NAME,
                                     "ref": f"candidate-{candidate_id}"}
                delivery.payload = body


# --- who is due -------------------------------------------------------------------------

def due_for_retention(now: datetime, retention_days: int, limit: int) -> list[int]:
    """Candidates whose process ended more than retention_days ago (lowest ids first).

    NOT EXISTS per candidate rather than a GROUP BY over every interview: walking the
    candidates by id, each is probed through interviews' candidate_id index, and the
    statement stops at `limit` matches."""
    cutoff = now - timedelta(days=retention_days)
    iv = aliased(Interview)
    not_over = exists().where(
        iv.candidate_id == Candidate.id,
        or_(iv.status.in_(OPEN_STATUSES),
            func.coalesce(iv.cancelled_at, iv.scheduled_at) >= cutoff)).correlate(Candidate)
    # Still waiting for a place or a promised slot: the process has not ended.
    waiting = or_(
        exists().where(WaitlistEntry.candidate_id == Candidate.id,
                       WaitlistEntry.state == WaitlistState.WAITING).correlate(Candidate),
        exists().where(ReschedulePromise.candidate_id == Candidate.id,
                       ReschedulePromise.state == PromiseState.OPEN).correlate(Candidate),
        exists().where(SlotOffer.candidate_id == Candidate.id,
                       SlotOffer.state == OfferState.OPEN).correlate(Candidate))
    had_one = exists().where(iv.candidate_id == Candidate.id).correlate(Candidate)
    done = exists().where(CandidateAnonymisation.candidate_id == Candidate.id) \
        .correlate(Candidate)
    stmt = (select(Candidate.id)
            .where(~done, ~not_over, ~waiting, or_(had_one, Candidate.created_at < cutoff))
            .order_by(Candidate.id).limit(limit))
    return list(db.session.scalars(stmt))


def due_requests(now: datetime, limit: int) -> list[int]:
    """Pending erasure requests whose deadline has come (at the deadline exactly: due)."""
    return list(db.session.scalars(select(ErasureRequest.id).where(
        ErasureRequest.status == ErasureStatus.PENDING, ErasureRequest.due_at <= now)
        .order_by(ErasureRequest.due_at, ErasureRequest.id).limit(limit)))
