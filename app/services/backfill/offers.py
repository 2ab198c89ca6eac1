"""The candidate's slot offers (mini program): list, accept, decline.

Accepting is one transaction of compare-and-set UPDATEs, in this order:
1. the place: a backfill offer's held place held -> filled (the first of the candidates
   offered that place wins; the place was already counted in the session's `booked`), a
   promise offer's session `booked + 1 WHERE booked < capacity` (never over capacity);
2. the offer: open -> accepted (`WHERE state = 'open' AND expires_at > now`): a double tap
   or two devices accept once;
3. the candidate: locked (PostgreSQL: FOR UPDATE; SQLite: the writes above already hold
   its one write lock), then refused when they already have an interview of that position,
   or one at an overlapping time (nobody is double-booked);
4. the new interview, the audit entries, the webhook event, and the offer's siblings
   closed (`taken`).
A loser's UPDATE matches no row: its transaction is rolled back and it hears a clear
409 (offer_taken); its offer is then marked taken in a short transaction of its own.
Traps: do not read a state and write it back through the ORM; that is the race this
avoids. Keep the place first: with the offer first, a loser holding its own offer's row
waits for the place while the winner, closing the losers' offers, waits for that row
(a deadlock PostgreSQL breaks by failing one of them; the 20-candidate test found it).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import (
    BackfillPlace,
    Candidate,
    Interview,
    InterviewSession,
    InterviewStatus,
    OfferKind,
    OfferState,
    PlaceState,
    Position,
    SlotOffer,
    WaitlistEntry,
    WaitlistState,
)
from app.services import audit, webhooks
from app.services.backfill.errors import (
    AlreadyBooked,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferNotFound,
    OfferTaken,
)
from app.services.interviews import promises
from app.services.interviews.recipients import staff_of
from app.services.notifications import outbox
from app.services.rules import confirm_by_for

log = logging.getLogger(__name__)

ACTIVE = (InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED, InterviewStatus.CANCEL_PENDING)
CLOSED_ERRORS = {OfferState.TAKEN: OfferTaken, OfferState.EXPIRED: OfferExpired,
                 OfferState.DECLINED: OfferDeclined, OfferState.ACCEPTED: OfferAccepted}
NUMBER_RETRIES = 5


@dataclass(frozen=True)
class OfferView:
    public_id: str
    kind: OfferKind
    state: OfferState
    position_title: str
    department: str
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime
    interview_public_id: str | None


def _view(offer: SlotOffer, session: InterviewSession, position: Position,
          interview_public_id: str | None = None) -> OfferView:
    return OfferView(offer.public_id, offer.kind, offer.state, position.title,
                     position.department, session.starts_at, session.ends_at,
                     offer.expires_at, interview_public_id)


def candidate_offers(candidate_id: int, now: datetime | None = None) -> list[OfferView]:
    """The candidate's open offers (not yet expired), soonest slot first."""
    now = now or utcnow()
    rows = db.session.execute(
        select(SlotOffer, InterviewSession, Position)
        .join(InterviewSession, InterviewSession.id == SlotOffer.session_id)
        .join(Position, Position.id == SlotOffer.position_id)
        .where(SlotOffer.candidate_id == candidate_id, SlotOffer.state == OfferState.OPEN,
               SlotOffer.expires_at > now)
        .order_by(InterviewSession.starts_at, SlotOffer.id)).all()
    return [_view(o, s, p) for o, s, p in rows]


def _load(candidate_id: int, offer_public_id: str) -> SlotOffer:
    """The candidate's own offer; another candidate's is 'not found'."""
    offer = db.session.scalars(select(SlotOffer).where(
        SlotOffer.public_id == offer_public_id, SlotOffer.candidate_id == candidate_id)).first()
    if offer is None:
        raise OfferNotFound()
    return offer


def _closed_error(offer: SlotOffer):
    return CLOSED_ERRORS[offer.state](details={"state": offer.state.value,
                                               "state_label": offer.state.label})


def _set_state(offer_id: int, state: OfferState, now: datetime, *, only_open: bool = True,
               expires_after: datetime | None = None) -> bool:
    conditions = [SlotOffer.id == offer_id]
    if only_open:
        conditions.append(SlotOffer.state == OfferState.OPEN)
    if expires_after is not None:
        conditions.append(SlotOffer.expires_at > expires_after)
    return db.session.execute(
        update(SlotOffer).where(*conditions)
        .values(state=state, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1


def _audit(offer: SlotOffer, action: str, candidate_id: int | None, data: dict | None = None,
           ip: str | None = None) -> None:
    audit.record(actor_type="candidate" if candidate_id else "system", actor_id=candidate_id,
                 action=action, object_type="slot_offer", object_id=offer.id, ip=ip,
                 data={"kind": offer.kind.label, "session_id": offer.session_id,
                       "position_id": offer.position_id, **(data or {})})


# --- accept ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    offer: OfferView
    interview_id: int
    interview_public_id: str


def accept(candidate_id: int, offer_public_id: str, now: datetime | None = None, *,
           ip: str | None = None) -> Accepted:
    """The candidate takes the offered slot: first come (atomically), never over capacity,
    never a second interview of the position or at the same time."""
    now = now or utcnow()
    for _attempt in range(NUMBER_RETRIES):
        try:
            outcome = _accept(candidate_id, offer_public_id, now, ip)
            db.session.commit()
        except IntegrityError:
            # two bookings of one Beijing day drew the same interview number: again
            db.session.rollback()
            continue
        except OfferTaken:
            db.session.rollback()
            _mark(candidate_id, offer_public_id, OfferState.TAKEN, now)
            raise
        except OfferExpired:
            db.session.rollback()
            _mark(candidate_id, offer_public_id, OfferState.EXPIRED, now)
            raise
        except Exception:
            db.session.rollback()
            raise
        outbox.wake_dispatcher()
        return outcome
    raise RuntimeError("booking kept colliding on interview numbers")  # pragma: no cover


def _mark(candidate_id: int, offer_public_id: str, state: OfferState, now: datetime) -> None:
    """The loser's offer is closed for good (its own short transaction)."""
    try:
        offer = _load(candidate_id, offer_public_id)
        if _set_state(offer.id, state, now):
            if state == OfferState.TAKEN:
                _audit(offer, "offer.taken", None)
            else:
                _audit(offer, "offer.expired", None)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("could not close offer %s", offer_public_id, exc_info=True)


def _accept(candidate_id: int, offer_public_id: str, now: datetime, ip) -> Accepted:
    offer = _load(candidate_id, offer_public_id)
    if offer.state != OfferState.OPEN:
        raise _closed_error(offer)
    if offer.expires_at <= now:
        raise OfferExpired(details={"state": "expired", "expires_at": iso(offer.expires_at)})
    # 1. the place (first: every contender for it queues on this one row, so the winner
    # may close the losers' offers without waiting for locks they hold)
    if offer.kind == OfferKind.BACKFILL:
        taken = db.session.execute(
            update(BackfillPlace)
            .where(BackfillPlace.id == offer.place_id, BackfillPlace.state == PlaceState.HELD)
            .values(state=PlaceState.FILLED, closed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
    else:
        taken = db.session.execute(
            update(InterviewSession)
            .where(InterviewSession.id == offer.session_id,
                   InterviewSession.booked < InterviewSession.capacity)
            .values(booked=InterviewSession.booked + 1)
            .execution_options(synchronize_session=False)).rowcount == 1
    if not taken:
        db.session.refresh(offer)
        if offer.state == OfferState.ACCEPTED:  # this candidate's own earlier tap won
            raise _closed_error(offer)
        raise OfferTaken()
    # 2. the offer itself
    if not _set_state(offer.id, OfferState.ACCEPTED, now, expires_after=now):
        db.session.refresh(offer)
        raise _closed_error(offer) if offer.state != OfferState.OPEN else OfferExpired()
    session = db.session.get(InterviewSession, offer.session_id)
    db.session.expire(session, ["booked"])
    # 3. the candidate
    _lock_candidate(candidate_id)
    if _already_booked(candidate_id, offer.position_id, session):
        raise AlreadyBooked()
    # 4. the interview and the rest
    interview = _book(offer, session, now)
    offer.interview_id = interview.id
    if offer.place_id is not None:
        db.session.execute(update(BackfillPlace).where(BackfillPlace.id == offer.place_id)
                           .values(interview_id=interview.id)
                           .execution_options(synchronize_session=False))
    _close_siblings(offer, now)
    db.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.position_id == offer.position_id,
               WaitlistEntry.candidate_id == candidate_id,
               WaitlistEntry.state == WaitlistState.WAITING)
        .values(state=WaitlistState.BOOKED, booked_interview_id=interview.id, updated_at=now)
        .execution_options(synchronize_session=False))
    promises.keep_for_booking(candidate_id, offer.position_id, interview.id, now)
    db.session.flush()
    _audit(offer, "offer.accepted", candidate_id, {"interview_id": interview.id,
                                                   "number": interview.number}, ip)
    audit.record(actor_type="candidate", actor_id=candidate_id, action="interview.created",
                 object_type="interview", object_id=interview.id, ip=ip,
                 data={"number": interview.number, "source": offer.kind.label,
                       "session_id": session.id, "scheduled_at": iso(session.starts_at)})
    payload = webhooks.interview_payload(interview, actor_type="candidate",
                                         actor_id=candidate_id, at=now)
    payload["offer"] = {"kind": offer.kind.value}
    webhooks.enqueue_event("interview.booked", f"interview.booked:{interview.id}", payload)
    # the recruiting team learns of the new interview (the candidate booked it themselves)
    context = outbox.interview_context(interview, reason_label=offer.kind.label)
    for user_id in staff_of(interview, ("recruiter", "hiring_manager")):
        outbox.enqueue(event=f"interview.booked:{interview.id}", kind="staff_interview_booked",
                       recipient_type="hr_user", recipient_id=user_id, interview=interview,
                       context=context)
    position = db.session.get(Position, offer.position_id)
    db.session.refresh(offer)
    return Accepted(_view(offer, session, position, interview.public_id), interview.id,
                    interview.public_id)


def _lock_candidate(candidate_id: int) -> None:
    stmt = select(Candidate.id).where(Candidate.id == candidate_id)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    db.session.execute(stmt)


def _already_booked(candidate_id: int, position_id: int, session: InterviewSession) -> bool:
    """An interview of this position still ahead, or any active interview overlapping the
    session's time."""
    found = db.session.scalar(select(Interview.id).where(
        Interview.candidate_id == candidate_id, Interview.status.in_(ACTIVE),
        or_(Interview.position_id == position_id,
            and_(Interview.scheduled_at < session.ends_at,
                 Interview.scheduled_at > session.starts_at - timedelta(hours=2)))).limit(1))
    return found is not None


def _book(offer: SlotOffer, session: InterviewSession, now: datetime) -> Interview:
    from app.services.integration.upsert import next_number

    interviewer_id, duration = None, 30
    if offer.promise_id is not None:
        original = db.session.scalar(select(Interview).join(
            promises.ReschedulePromise,
            promises.ReschedulePromise.interview_id == Interview.id).where(
            promises.ReschedulePromise.id == offer.promise_id))
        if original is not None:
            interviewer_id, duration = original.interviewer_id, original.duration_minutes
    interview = Interview(number=next_number(session.starts_at), candidate_id=offer.candidate_id,
                          position_id=offer.position_id, session_id=session.id,
                          interviewer_id=interviewer_id, status=InterviewStatus.SCHEDULED,
                          scheduled_at=session.starts_at, duration_minutes=duration,
                          confirm_by=confirm_by_for(session.starts_at, now),
                          created_at=now, updated_at=now)  # the clock the caller gave
    db.session.add(interview)
    db.session.flush()
    return interview


def _close_siblings(offer: SlotOffer, now: datetime) -> None:
    """Other open offers of the same place or promise, and the candidate's other open
    offers of the position, are taken."""
    same = [and_(SlotOffer.candidate_id == offer.candidate_id,
                 SlotOffer.position_id == offer.position_id)]
    if offer.place_id is not None:
        same.append(SlotOffer.place_id == offer.place_id)
    if offer.promise_id is not None:
        same.append(SlotOffer.promise_id == offer.promise_id)
    db.session.execute(
        update(SlotOffer)
        .where(SlotOffer.state == OfferState.OPEN, SlotOffer.id != offer.id, or_(*same))
        .values(state=OfferState.TAKEN, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False))


# --- decline ---------------------------------------------------------------------------------

def decline(candidate_id: int, offer_public_id: str, now: datetime | None = None, *,
            ip: str | None = None) -> OfferView:
    """The candidate turns the offer down; a backfill place goes to the next waiting
    candidate at once."""
    from app.services.backfill import places

    now = now or utcnow()
    try:
        offer = _load(candidate_id, offer_public_id)
        if offer.state != OfferState.OPEN:
            raise _closed_error(offer)
        if not _set_state(offer.id, OfferState.DECLINED, now):
            db.session.refresh(offer)
            raise _closed_error(offer)
        _audit(offer, "offer.declined", candidate_id, ip=ip)
        if offer.place_id is not None:
            places.offer_place(offer.place_id, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    outbox.wake_dispatcher()
    db.session.refresh(offer)
    session = db.session.get(InterviewSession, offer.session_id)
    return _view(offer, session, db.session.get(Position, offer.position_id))
