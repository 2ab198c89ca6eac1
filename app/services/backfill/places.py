"""The backfill job: free places of a position's sessions go to its waiting list.

One pass (`run(now)`), each step idempotent and safe on any number of workers:
1. offers past their time expire (open -> expired, compare-and-set);
2. held places whose session is too close to change (the candidates' cancel deadline)
   are released (the session's `booked` goes back down);
3. every held place without an open offer (its offers expired or were declined) is
   offered to the next waiting candidates in HR's order (BACKFILL_OFFER_FANOUT of them,
   default 1), skipping anyone already offered that session, booked in that position or
   at that time, or holding another open backfill offer; the offer holds the place for
   BACKFILL_OFFER_HOURS (default 12) or until the session gets too close. When nobody is
   left, the place is released;
4. free capacity of the sessions of active positions with waiting candidates is held while
   someone eligible waits for that session (`booked + 1 WHERE booked < capacity`: a hold
   never overfills a session, and a candidate rescheduling at the same moment cannot
   either), and offered at once.

Trap: a freed place is noticed by scanning capacity, not by hooking the cancel paths
(app.services.cancellation is the only cancel path and stays untouched); a cancel
decrements `booked`, and the next pass sees the room.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, or_, select, update

from app.core import sqlwrite
from app.core.timeutil import iso
from app.extensions import db
from app.models import (
    BackfillPlace,
    Candidate,
    Interview,
    InterviewSession,
    OfferKind,
    OfferState,
    PlaceState,
    Position,
    SlotOffer,
    WaitlistEntry,
    WaitlistState,
)
from app.models.backfill import new_offer_id
from app.services import audit
from app.services.backfill.offers import ACTIVE
from app.services.notifications import outbox
from app.services.rules import get_rules

log = logging.getLogger(__name__)
RULE = "backfill"


def offer_hours() -> int:
    return int(current_app.config.get("BACKFILL_OFFER_HOURS", 12))


def fanout() -> int:
    return max(1, int(current_app.config.get("BACKFILL_OFFER_FANOUT", 1)))


def _lead() -> timedelta:
    return timedelta(hours=get_rules().cancel_deadline_hours)


def _audit(object_id: int, action: str, object_type: str, data: dict) -> None:
    audit.record(actor_type="system", actor_id=None, action=action, object_type=object_type,
                 object_id=object_id, data={"rule": RULE, **data})


# --- 1. expiring -----------------------------------------------------------------------------

def expire_offers(now: datetime) -> int:
    """Open offers (backfill and promise) whose time is up (expires_at <= now)."""
    rows = db.session.execute(select(SlotOffer.id, SlotOffer.kind, SlotOffer.session_id,
                                     SlotOffer.position_id)
                              .where(SlotOffer.state == OfferState.OPEN,
                                     SlotOffer.expires_at <= now)).all()
    expired = 0
    for row in rows:
        matched = db.session.execute(
            update(SlotOffer).where(SlotOffer.id == row.id, SlotOffer.state == OfferState.OPEN)
            .values(state=OfferState.EXPIRED, decided_at=now, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
        if matched:
            _audit(row.id, "offer.expired", "slot_offer",
                   {"kind": row.kind.label, "session_id": row.session_id,
                    "position_id": row.position_id})
            expired += 1
    db.session.commit()
    return expired


# --- 2. releasing ----------------------------------------------------------------------------

def release_place(place_id: int, now: datetime, why: str) -> bool:
    """A held place goes back to the session (in the caller's transaction)."""
    place = db.session.get(BackfillPlace, place_id)
    matched = db.session.execute(
        update(BackfillPlace)
        .where(BackfillPlace.id == place_id, BackfillPlace.state == PlaceState.HELD)
        .values(state=PlaceState.RELEASED, closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not matched:
        return False
    db.session.execute(
        update(InterviewSession)
        .where(InterviewSession.id == place.session_id, InterviewSession.booked > 0)
        .values(booked=InterviewSession.booked - 1)
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(SlotOffer).where(SlotOffer.place_id == place_id,
                                SlotOffer.state == OfferState.OPEN)
        .values(state=OfferState.EXPIRED, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    _audit(place.session_id, "backfill.place_released", "session",
           {"place_id": place_id, "position_id": place.position_id, "why": why})
    return True


def release_stale(now: datetime) -> int:
    """Held places of sessions that start within the cancel deadline."""
    ids = db.session.scalars(
        select(BackfillPlace.id)
        .join(InterviewSession, InterviewSession.id == BackfillPlace.session_id)
        .where(BackfillPlace.state == PlaceState.HELD,
               InterviewSession.starts_at <= now + _lead())).all()
    released = sum(release_place(pid, now, "面试即将开始，不再补位") for pid in ids)
    db.session.commit()
    return released


# --- 3. holding --------------------------------------------------------------------------

def hold_free_places(now: datetime) -> int:
    """Free places of the sessions of positions with waiting candidates: while a session
    has room and someone eligible is waiting for it, hold a place and offer it at once
    (so a place is never held for nobody, and nobody is offered a session twice)."""
    earliest = now + _lead() + timedelta(hours=1)
    positions = db.session.scalars(
        select(WaitlistEntry.position_id).distinct()
        .join(Position, Position.id == WaitlistEntry.position_id)
        .where(WaitlistEntry.state == WaitlistState.WAITING, Position.active.is_(True))
        .order_by(WaitlistEntry.position_id)).all()
    held = 0
    for position_id in positions:
        # one worker at a time per position: holds and their offers are decided together
        db.session.execute(_locked(select(Position.id).where(Position.id == position_id)))
        sessions = db.session.scalars(
            select(InterviewSession)
            .where(InterviewSession.position_id == position_id,
                   InterviewSession.starts_at > earliest,
                   InterviewSession.booked < InterviewSession.capacity)
            .order_by(InterviewSession.starts_at, InterviewSession.id)).all()
        for session in sessions:
            while _next_candidates(position_id, session, 1) and _hold(session.id):
                place = BackfillPlace(session_id=session.id, position_id=position_id,
                                      state=PlaceState.HELD, created_at=now, updated_at=now)
                db.session.add(place)
                db.session.flush()
                _audit(session.id, "backfill.place_held", "session",
                       {"place_id": place.id, "position_id": position_id})
                offer_place(place.id, now)
                held += 1
        db.session.commit()  # (and the position's lock goes)
    if held:
        outbox.wake_dispatcher()
    return held


def _locked(stmt):
    """FOR UPDATE on PostgreSQL (SQLite has one writer at a time anyway)."""
    return stmt.with_for_update() if db.session.get_bind().dialect.name == "postgresql" \
        else stmt


def _hold(session_id: int) -> bool:
    return db.session.execute(
        update(InterviewSession)
        .where(InterviewSession.id == session_id,
               InterviewSession.booked < InterviewSession.capacity)
        .values(booked=InterviewSession.booked + 1)
        .execution_options(synchronize_session=False)).rowcount == 1


# --- 4. offering ----------------------------------------------------------------------------

def _next_candidates(position_id: int, session: InterviewSession, limit: int) -> list:
    """The next waiting candidates of the position, in HR's order, who were never offered
    this session (a decline or an expiry is an answer for that session), hold no other
    open backfill offer, and have no interview of the position or at an overlapping time
    (an active interview starting less than 2 hours before the session, or during it)."""
    offered_here = exists().where(SlotOffer.session_id == session.id,
                                  SlotOffer.kind == OfferKind.BACKFILL,
                                  SlotOffer.candidate_id == WaitlistEntry.candidate_id)
    holding = exists().where(SlotOffer.candidate_id == WaitlistEntry.candidate_id,
                             SlotOffer.kind == OfferKind.BACKFILL,
                             SlotOffer.state == OfferState.OPEN)
    booked = exists().where(
        Interview.candidate_id == WaitlistEntry.candidate_id, Interview.status.in_(ACTIVE),
        or_(Interview.position_id == position_id,
            and_(Interview.scheduled_at < session.ends_at,
                 Interview.scheduled_at > session.starts_at - timedelta(hours=2))))
    return db.session.execute(
        select(WaitlistEntry.id, WaitlistEntry.candidate_id)
        .where(WaitlistEntry.position_id == position_id,
               WaitlistEntry.state == WaitlistState.WAITING,
               ~offered_here, ~holding, ~booked)
        .order_by(WaitlistEntry.rank, WaitlistEntry.id).limit(limit)).all()


def offer_place(place_id: int, now: datetime) -> int:
    """Offer one held place (that has no open offer) to the next waiting candidates, or
    release it when nobody is left (in the caller's transaction). Returns offers made."""
    # the place's row lock: two workers (or a decline and the job) never offer it twice
    place = db.session.scalars(_locked(select(BackfillPlace).where(
        BackfillPlace.id == place_id))).first()
    if place is None or place.state != PlaceState.HELD:
        return 0
    if db.session.scalar(select(SlotOffer.id).where(SlotOffer.place_id == place_id,
                                                    SlotOffer.state == OfferState.OPEN)
                         .limit(1)) is not None:
        return 0
    session = db.session.get(InterviewSession, place.session_id)
    chosen = _next_candidates(place.position_id, session, fanout())
    if not chosen:
        release_place(place_id, now, "没有可补位的候补候选人")
        return 0
    expires_at = min(now + timedelta(hours=offer_hours()), session.starts_at - _lead())
    rows = [dict(public_id=new_offer_id(), kind=OfferKind.BACKFILL, candidate_id=c.candidate_id,
                 position_id=place.position_id, session_id=session.id, place_id=place.id,
                 waitlist_entry_id=c.id, state=OfferState.OPEN, expires_at=expires_at,
                 created_at=now, updated_at=now) for c in chosen]
    written = sqlwrite.insert_set(db.session.connection(), SlotOffer.__table__, rows,
                                  conflict=("place_id", "candidate_id"),
                                  returning=("id", "candidate_id"))
    position = db.session.get(Position, place.position_id)
    for offer_id, candidate_id in written:
        candidate = db.session.get(Candidate, candidate_id)
        context = {"candidate_name": candidate.name, "position_title": position.title,
                   "department": position.department, "slot_starts_at": iso(session.starts_at),
                   "expires_at": iso(expires_at), "scheduled_at": iso(session.starts_at),
                   "reason_label": "", "note": ""}
        outbox.enqueue(event=f"backfill.offer:{offer_id}", kind="candidate_slot_offer",
                       recipient_type="candidate", recipient_id=candidate_id, interview=None,
                       context=context)
        _audit(offer_id, "backfill.offered", "slot_offer",
               {"place_id": place.id, "session_id": session.id, "candidate_id": candidate_id,
                "expires_at": iso(expires_at)})
    return len(written)


def offer_held_places(now: datetime) -> int:
    has_open = exists().where(SlotOffer.place_id == BackfillPlace.id,
                              SlotOffer.state == OfferState.OPEN)
    ids = db.session.scalars(select(BackfillPlace.id).where(
        BackfillPlace.state == PlaceState.HELD, ~has_open)
        .order_by(BackfillPlace.id)).all()
    made = 0
    for place_id in ids:
        made += offer_place(place_id, now)
        db.session.commit()
    if made:
        outbox.wake_dispatcher()
    return made


def run(now: datetime) -> int:
    """One pass of the backfill job (see the module docstring); between steps it stops
    when a later run took over or the worker is stopping (each step commits its work)."""
    from app.core import fencing

    done = 0
    for step in (expire_offers, release_stale, offer_held_places, hold_free_places):
        if fencing.should_stop():
            break
        done += step(now)
    return done
