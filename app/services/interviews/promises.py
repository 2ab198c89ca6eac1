"""The rescheduling promise: when the company cancels with 为候选人重新安排, the candidate
is promised a new slot by the end of the N-th working day (the cancellation's
`reschedule_by`). Each promise is a row (app.models.ReschedulePromise) that this module
moves along, always from the `now` it is given:

- opened from the effective company cancellations that carry reschedule_by (a scan, so
  every cancel path, single, batch, integration, is covered without touching it);
- slots offered where the position has capacity (SlotOffer rows of kind "promise"; the
  candidate picks one in the mini program: app.services.backfill.offers books it);
- kept when the candidate books an interview of the same position after the cancel (by
  an offer, or HR / the ATS scheduling one);
- the HR owner (the position's recruiter, else its hiring manager) warned once, from
  WARN_AT_HOUR on the working day before the due day;
- broken once due has passed unkept (at exactly due_at it is still open).

Traps: state changes are compare-and-set UPDATEs (`WHERE state = 'open'`), so two workers
running the same job change a promise once; messages and webhooks are written only by the
run whose UPDATE matched, and their dedupe keys make even a replay harmless. Days are
Asia/Shanghai days on the working-day calendar with HR's overrides (rules.calendar), which
also covers years chinese-calendar has no data for.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import exists, func, or_, select, update

from app.core import sqlwrite
from app.core.timeutil import SHANGHAI, iso, local
from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    Interview,
    InterviewSession,
    InterviewStatus,
    OfferKind,
    OfferState,
    PromiseState,
    ReschedulePromise,
    SlotOffer,
)
from app.services import audit, webhooks
from app.services.interviews.recipients import staff_of
from app.services.notifications import outbox
from app.services.rules import get_rules
from app.services.rules.calendar import WorkdayCalendar

log = logging.getLogger(__name__)

RULE = "reschedule_promise"
WARN_AT_HOUR = 9            # the warning goes out from 09:00 on the working day before due
OFFERS_PER_PROMISE = 3      # sessions offered at a time
# Interviews that count as a new slot for the candidate (a later cancel does not undo it).
BOOKED_STATUSES = (InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED,
                   InterviewStatus.CANCEL_PENDING, InterviewStatus.COMPLETED,
                   InterviewStatus.NO_SHOW)


def _audit(promise: ReschedulePromise, action: str, data: dict | None = None) -> None:
    audit.record(actor_type="system", actor_id=None, action=action,
                 object_type="reschedule_promise", object_id=promise.id,
                 data={"rule": RULE, "interview_id": promise.interview_id,
                       "due_at": iso(promise.due_at), **(data or {})})


# --- opening ---------------------------------------------------------------------------

def open_promises(now: datetime) -> int:
    """A promise for every effective company cancellation with reschedule_by that has
    none yet. Returns how many were opened."""
    missing = (select(Cancellation.id, Cancellation.interview_id, Cancellation.reschedule_by,
                      Interview.candidate_id, Interview.position_id)
               .join(Interview, Interview.id == Cancellation.interview_id)
               .where(Cancellation.reschedule_by.is_not(None),
                      Cancellation.state == CancellationState.EFFECTIVE,
                      ~exists().where(ReschedulePromise.cancellation_id == Cancellation.id))
               .order_by(Cancellation.id).limit(500))
    rows = db.session.execute(missing).all()
    if not rows:
        return 0
    values = [dict(cancellation_id=r.id, interview_id=r.interview_id,
                   candidate_id=r.candidate_id, position_id=r.position_id,
                   due_at=r.reschedule_by, state=PromiseState.OPEN, created_at=now,
                   updated_at=now) for r in rows]
    ids = sqlwrite.insert_set(db.session.connection(), ReschedulePromise.__table__, values,
                              conflict=("cancellation_id",), returning=("id",))
    opened = db.session.scalars(select(ReschedulePromise).where(
        ReschedulePromise.id.in_([i[0] for i in ids]))).all()
    for promise in opened:
        _audit(promise, "promise.opened", {"cancellation_id": promise.cancellation_id})
    db.session.commit()
    return len(opened)


# --- keeping -----------------------------------------------------------------------------

def keep(promise_id: int, interview_id: int, now: datetime) -> bool:
    """Mark one promise kept by this interview (in the caller's transaction); False when
    it was no longer open."""
    matched = db.session.execute(
        update(ReschedulePromise)
        .where(ReschedulePromise.id == promise_id,
               ReschedulePromise.state == PromiseState.OPEN)
        .values(state=PromiseState.KEPT, kept_by_interview_id=interview_id, kept_at=now,
                updated_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    if matched:
        promise = db.session.get(ReschedulePromise, promise_id)
        db.session.refresh(promise)
        _close_offers(promise_id, now)
        _audit(promise, "promise.kept", {"kept_by_interview_id": interview_id})
    return matched


def keep_for_booking(candidate_id: int, position_id: int, interview_id: int,
                     now: datetime) -> int:
    """A new interview of this candidate and position keeps their open promises of that
    position (in the caller's transaction). Returns how many."""
    ids = db.session.scalars(select(ReschedulePromise.id).where(
        ReschedulePromise.candidate_id == candidate_id,
        ReschedulePromise.position_id == position_id,
        ReschedulePromise.state == PromiseState.OPEN,
        ReschedulePromise.due_at >= now)).all()
    return sum(keep(pid, interview_id, now) for pid in ids)


def keep_booked(now: datetime) -> int:
    """Open promises whose candidate got an interview of the position after the cancel
    (HR or the ATS scheduled it): kept by the earliest such interview."""
    cancelled_at = (select(func.coalesce(Cancellation.decided_at, Cancellation.requested_at))
                    .where(Cancellation.id == ReschedulePromise.cancellation_id)
                    .correlate(ReschedulePromise).scalar_subquery())
    later = (select(Interview.id)
             .where(Interview.candidate_id == ReschedulePromise.candidate_id,
                    Interview.position_id == ReschedulePromise.position_id,
                    Interview.id != ReschedulePromise.interview_id,
                    Interview.status.in_(BOOKED_STATUSES),
                    Interview.created_at >= cancelled_at,
                    Interview.created_at <= ReschedulePromise.due_at)
             .order_by(Interview.created_at, Interview.id).limit(1)
             .correlate(ReschedulePromise).scalar_subquery())
    rows = db.session.execute(
        select(ReschedulePromise.id, later.label("interview_id"))
        .where(ReschedulePromise.state == PromiseState.OPEN)).all()
    kept = 0
    for promise_id, interview_id in rows:
        if interview_id is not None and keep(promise_id, interview_id, now):
            kept += 1
    db.session.commit()
    return kept


# --- breaking ------------------------------------------------------------------------------

def break_overdue(now: datetime) -> int:
    """Open promises past due (due_at < now) become broken; their open offers close."""
    ids = db.session.scalars(select(ReschedulePromise.id).where(
        ReschedulePromise.state == PromiseState.OPEN, ReschedulePromise.due_at < now)).all()
    broken = 0
    for promise_id in ids:
        matched = db.session.execute(
            update(ReschedulePromise)
            .where(ReschedulePromise.id == promise_id,
                   ReschedulePromise.state == PromiseState.OPEN,
                   ReschedulePromise.due_at < now)
            .values(state=PromiseState.BROKEN, broken_at=now, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not matched:
            continue
        promise = db.session.get(ReschedulePromise, promise_id)
        db.session.refresh(promise)
        _close_offers(promise_id, now, OfferState.EXPIRED)
        _audit(promise, "promise.broken")
        interview = db.session.get(Interview, promise.interview_id)
        webhooks.enqueue_event("promise.broken", f"promise.broken:{promise.id}", {
            **webhooks.interview_payload(interview, actor_type="system", actor_id=None,
                                         at=now),
            "promise": {"due_at": iso(promise.due_at), "state": promise.state.value}})
        broken += 1
        db.session.commit()
    return broken


def _close_offers(promise_id: int, now: datetime,
                  state: OfferState = OfferState.TAKEN) -> None:
    db.session.execute(
        update(SlotOffer)
        .where(SlotOffer.promise_id == promise_id, SlotOffer.state == OfferState.OPEN)
        .values(state=state, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False))


# --- warning the HR owner --------------------------------------------------------------------

def warn_from(due_at: datetime, calendar: WorkdayCalendar | None = None) -> datetime:
    """WARN_AT_HOUR (Asia/Shanghai) on the last working day before the due day."""
    calendar = calendar or WorkdayCalendar()
    day = local(due_at).date() - timedelta(days=1)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(WARN_AT_HOUR), SHANGHAI)


def owner_id(interview: Interview) -> int | None:
    """The promise's HR owner: the position's recruiter, else its hiring manager."""
    found = staff_of(interview, ("recruiter",)) or staff_of(interview, ("hiring_manager",))
    return found[0] if found else None


def warn_at_risk(now: datetime) -> int:
    """Warn the HR owner once about each open promise one working day before it would be
    broken (a staff_promise_at_risk message through the outbox)."""
    rows = db.session.scalars(select(ReschedulePromise).where(
        ReschedulePromise.state == PromiseState.OPEN,
        ReschedulePromise.warned_at.is_(None),
        ReschedulePromise.due_at >= now)).all()
    calendar = WorkdayCalendar()
    warned = 0
    for promise in rows:
        if now < warn_from(promise.due_at, calendar):
            continue
        matched = db.session.execute(
            update(ReschedulePromise)
            .where(ReschedulePromise.id == promise.id,
                   ReschedulePromise.state == PromiseState.OPEN,
                   ReschedulePromise.warned_at.is_(None))
            .values(warned_at=now, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not matched:
            continue
        interview = db.session.get(Interview, promise.interview_id)
        owner = owner_id(interview)
        if owner is not None:
            context = {**outbox.interview_context(interview, reason_label="重新安排即将逾期"),
                       "due_at": iso(promise.due_at)}
            outbox.enqueue(event=f"promise.at_risk:{promise.id}", kind="staff_promise_at_risk",
                           recipient_type="hr_user", recipient_id=owner, interview=None,
                           context=context)
        else:
            log.warning("promise %s is at risk and its position has no HR owner", promise.id)
        db.session.refresh(promise)
        _audit(promise, "promise.warned", {"hr_user_id": owner})
        warned += 1
        db.session.commit()
    if warned:
        outbox.wake_dispatcher()
    return warned


# --- offering slots --------------------------------------------------------------------------

def _open_sessions(position_id: int, earliest: datetime, exclude: list[int], limit: int):
    stmt = (select(InterviewSession)
            .where(or_(InterviewSession.position_id == position_id,
                       InterviewSession.position_id.is_(None)),
                   InterviewSession.starts_at > earliest,
                   InterviewSession.booked < InterviewSession.capacity)
            .order_by(InterviewSession.starts_at, InterviewSession.id).limit(limit))
    if exclude:
        stmt = stmt.where(InterviewSession.id.not_in(exclude))
    return db.session.scalars(stmt).all()


def offer_slots(now: datetime) -> int:
    """Open promises with no open offer get up to OFFERS_PER_PROMISE sessions of their
    position that have room (never one offered to them before), and a candidate_slot_offer
    message. Offers end when the promise is due, or when the session gets too close to
    change (the candidates' cancel deadline). Returns how many offers were made."""
    rules = get_rules()
    lead = timedelta(hours=rules.cancel_deadline_hours)
    has_open = exists().where(SlotOffer.promise_id == ReschedulePromise.id,
                              SlotOffer.state == OfferState.OPEN)
    promises = db.session.scalars(select(ReschedulePromise).where(
        ReschedulePromise.state == PromiseState.OPEN, ReschedulePromise.due_at >= now,
        ~has_open).order_by(ReschedulePromise.due_at, ReschedulePromise.id)).all()
    made = 0
    for promise in promises:
        offered = db.session.scalars(select(SlotOffer.session_id).where(
            SlotOffer.promise_id == promise.id)).all()
        sessions = _open_sessions(promise.position_id, now + lead, list(offered),
                                  OFFERS_PER_PROMISE)
        if not sessions:
            continue
        rows = [dict(public_id=_new_public_id(), kind=OfferKind.PROMISE,
                     candidate_id=promise.candidate_id, position_id=promise.position_id,
                     session_id=s.id, promise_id=promise.id, state=OfferState.OPEN,
                     expires_at=min(promise.due_at, s.starts_at - lead), created_at=now,
                     updated_at=now) for s in sessions]
        written = sqlwrite.insert_set(db.session.connection(), SlotOffer.__table__, rows,
                                      conflict=("promise_id", "session_id"),
                                      returning=("id",))
        if not written:
            db.session.rollback()
            continue
        db.session.execute(update(ReschedulePromise).where(
            ReschedulePromise.id == promise.id).values(offered_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        interview = db.session.get(Interview, promise.interview_id)
        first = sessions[0]
        context = {**outbox.interview_context(interview),
                   "slot_starts_at": iso(first.starts_at), "offers": len(written),
                   "due_at": iso(promise.due_at)}
        outbox.enqueue(event=f"promise.offer:{promise.id}:{written[0][0]}",
                       kind="candidate_slot_offer", recipient_type="candidate",
                       recipient_id=promise.candidate_id, interview=None, context=context)
        db.session.refresh(promise)
        _audit(promise, "promise.slots_offered",
               {"session_ids": [s.id for s in sessions]})
        db.session.commit()
        made += len(written)
    if made:
        outbox.wake_dispatcher()
    return made


def _new_public_id() -> str:
    from app.models.backfill import new_offer_id

    return new_offer_id()


# --- the job and the report ------------------------------------------------------------------

def run(now: datetime) -> int:
    """One pass: open, keep, break, warn, offer (in that order: a promise kept or broken
    in this pass is neither warned nor offered). Each step commits its own work; between
    steps the run stops when a later run took over or the worker is stopping (the next
    turn carries on)."""
    from app.core import fencing

    done = 0
    for step in (open_promises, keep_booked, break_overdue, warn_at_risk, offer_slots):
        if fencing.should_stop():
            break
        done += step(now)
    return done

