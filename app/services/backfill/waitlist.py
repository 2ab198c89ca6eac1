"""HR's waiting list per position (候补名单): add a candidate, move them up or down, take them
off. Changes need the "cancel" permission (those who schedule and cancel interviews:
admins, recruiting managers and specialists) and the position's department in the actor's
scope; reading needs "view" and the same scope. Every change is audited.

Traps: changes lock the position's row first (two HR users take turns; ranks stay distinct).
A candidate is named by the number of one of their interviews (what HR sees in
the console), and that interview must be in the actor's scope too, so nobody can put a
candidate of another department on a list by guessing numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from app.core.errors import Forbidden
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    Candidate,
    Interview,
    OfferState,
    Position,
    SlotOffer,
    WaitlistEntry,
    WaitlistState,
)
from app.services import audit
from app.services.backfill.errors import (
    AlreadyWaiting,
    WaitlistCandidateNotFound,
    WaitlistEntryNotFound,
    WaitlistPositionNotFound,
)
from app.services.users.actor import Actor, interview_scope

MANAGE = "cancel"
NUMBER_MAX_LENGTH = 32


@dataclass(frozen=True)
class EntryView:
    id: int
    rank: int                 # 1, 2, 3 ... among the waiting
    candidate_name: str
    candidate_id: int
    state: WaitlistState
    added_at: datetime
    open_offer_expires_at: datetime | None


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise Forbidden("您没有管理候补名单的权限", code="waitlist_forbidden")


def _position(actor: Actor, position_id: int, *, lock: bool = False) -> Position:
    """The position if in the actor's scope; `lock`: its row locked, so two HR users
    changing one list take turns (ranks stay distinct)."""
    position = db.session.get(Position, position_id, with_for_update=lock) \
        if 0 < position_id < 2**31 else None
    if position is None or not actor.sees(position.department, None):
        raise WaitlistPositionNotFound()
    return position


def positions(actor: Actor) -> list[Position]:
    """The active positions whose lists this actor may see."""
    _require(actor, "view")
    rows = db.session.scalars(select(Position).where(Position.active.is_(True))
                              .order_by(Position.department, Position.title, Position.id))
    return [p for p in rows if actor.sees(p.department, None)]


def entries(actor: Actor, position_id: int, now: datetime | None = None) -> list[EntryView]:
    """The position's waiting candidates in order, then those who got a place."""
    _require(actor, "view")
    _position(actor, position_id)
    now = now or utcnow()
    open_offer = (select(func.max(SlotOffer.expires_at))
                  .where(SlotOffer.waitlist_entry_id == WaitlistEntry.id,
                         SlotOffer.state == OfferState.OPEN, SlotOffer.expires_at > now)
                  .correlate(WaitlistEntry).scalar_subquery())
    rows = db.session.execute(
        select(WaitlistEntry, Candidate.name, open_offer.label("offer_until"))
        .join(Candidate, Candidate.id == WaitlistEntry.candidate_id)
        .where(WaitlistEntry.position_id == position_id,
               WaitlistEntry.state.in_((WaitlistState.WAITING, WaitlistState.BOOKED)))
        .order_by(WaitlistEntry.state.desc(), WaitlistEntry.rank, WaitlistEntry.id)).all()
    views, n = [], 0
    for entry, name, offer_until in rows:
        if entry.state == WaitlistState.WAITING:
            n += 1
        views.append(EntryView(entry.id, n if entry.state == WaitlistState.WAITING else 0,
                               name, entry.candidate_id, entry.state, entry.created_at,
                               offer_until))
    return views


def _audit(actor: Actor, action: str, entry: WaitlistEntry, data: dict) -> None:
    audit.record(actor_type=actor.type.value, actor_id=actor.id, action=action,
                 object_type="waitlist_entry", object_id=entry.id, ip=actor.ip,
                 data={"position_id": entry.position_id, "candidate_id": entry.candidate_id,
                       **data})


def _last_rank(position_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.max(WaitlistEntry.rank), 0)).where(
        WaitlistEntry.position_id == position_id)) or 0


def add(actor: Actor, position_id: int, interview_number: str) -> WaitlistEntry:
    """Put the candidate of that interview at the end of the position's waiting list."""
    _require(actor, MANAGE)
    try:
        position = _position(actor, position_id, lock=True)
        number = (interview_number or "").strip()
        if not number or len(number) > NUMBER_MAX_LENGTH:
            raise WaitlistCandidateNotFound(details={"field": "interview_number"})
        candidate_id = db.session.scalar(
            select(Interview.candidate_id).join(Position, Position.id == Interview.position_id)
            .where(Interview.number == number, interview_scope(actor)))
        if candidate_id is None:
            raise WaitlistCandidateNotFound(details={"field": "interview_number"})
        entry = db.session.scalars(select(WaitlistEntry).where(
            WaitlistEntry.position_id == position.id,
            WaitlistEntry.candidate_id == candidate_id).with_for_update()).first()
        rank = _last_rank(position.id) + 1
        if entry is not None and entry.state == WaitlistState.WAITING:
            raise AlreadyWaiting(details={"field": "interview_number"})
        if entry is None:
            entry = WaitlistEntry(position_id=position.id, candidate_id=candidate_id,
                                  rank=rank, state=WaitlistState.WAITING, added_by=actor.id)
            db.session.add(entry)
        else:
            entry.state, entry.rank, entry.added_by = WaitlistState.WAITING, rank, actor.id
            entry.booked_interview_id = None
        db.session.flush()
        _audit(actor, "waitlist.added", entry, {"number": number})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return entry


def _entry(actor: Actor, entry_id: int) -> WaitlistEntry:
    """A waiting entry in the actor's scope, its position's row locked first (the order
    add() takes too), then the entry re-read under that lock."""
    entry = db.session.get(WaitlistEntry, entry_id) if 0 < entry_id < 2**31 else None
    if entry is None:
        raise WaitlistEntryNotFound()
    position = db.session.get(Position, entry.position_id, with_for_update=True)
    db.session.refresh(entry, with_for_update=True)
    if entry.state != WaitlistState.WAITING or not actor.sees(position.department, None):
        raise WaitlistEntryNotFound()
    return entry


def move(actor: Actor, entry_id: int, direction: str) -> WaitlistEntry:
    """Swap the entry with its waiting neighbour above ("up") or below ("down")."""
    _require(actor, MANAGE)
    try:
        entry = _entry(actor, entry_id)
        up = direction == "up"
        neighbour = db.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.position_id == entry.position_id,
                   WaitlistEntry.state == WaitlistState.WAITING,
                   WaitlistEntry.id != entry.id,
                   (WaitlistEntry.rank < entry.rank) if up else (WaitlistEntry.rank > entry.rank))
            .order_by(WaitlistEntry.rank.desc() if up else WaitlistEntry.rank)
            .limit(1).with_for_update()).first()
        if neighbour is not None:
            before = entry.rank
            entry.rank, neighbour.rank = neighbour.rank, entry.rank
            db.session.flush()
            _audit(actor, "waitlist.moved", entry,
                    {"before": {"rank": before}, "after": {"rank": entry.rank},
                     "direction": "上移" if up else "下移"})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return entry


def remove(actor: Actor, entry_id: int, now: datetime | None = None) -> WaitlistEntry:
    """Take the candidate off the list; their open offer of this position is withdrawn
    (expired), and the place goes to the next candidate at the backfill job's next pass."""
    _require(actor, MANAGE)
    now = now or utcnow()
    try:
        entry = _entry(actor, entry_id)
        entry.state = WaitlistState.REMOVED
        db.session.execute(
            update(SlotOffer).where(SlotOffer.waitlist_entry_id == entry.id,
                                    SlotOffer.state == OfferState.OPEN)
            .values(state=OfferState.EXPIRED, decided_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        db.session.flush()
        _audit(actor, "waitlist.removed", entry, {})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return entry
