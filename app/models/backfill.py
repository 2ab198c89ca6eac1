"""Rescheduling promises, waiting lists and slot offers (issue 11, §4 and §5).

- ReschedulePromise: the company cancelled with 为候选人重新安排 and promised a new slot by
  `due_at` (the cancellation's reschedule_by). One row per cancellation (unique): the job
  that opens promises may run on any number of workers.
- WaitlistEntry: a candidate waiting for a freed place of a position, in the order HR gives
  (`rank`, smaller first). One row per (position, candidate).
- BackfillPlace: one place of a session held for the waiting list (the session's `booked`
  counts it while it is held), until a waiting candidate takes it or nobody is left.
- SlotOffer: what a candidate sees in the mini program: a session they may book. A promise
  offer does not hold the place (first come, the session's capacity decides); a backfill
  offer is for a held place (first to accept among its offers gets it).

Trap: the states are compared-and-set in SQL (UPDATE ... WHERE state = 'open'); never
read-modify-write them through the ORM in a path that races.
"""
from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin


def _enum(cls, length=16):
    return Enum(cls, native_enum=False, length=length,
                values_callable=lambda e: [m.value for m in e])


class PromiseState(str, enum.Enum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"

    @property
    def label(self) -> str:
        return {"open": "进行中", "kept": "已兑现", "broken": "未兑现"}[self.value]


class ReschedulePromise(TimestampMixin, db.Model):
    __tablename__ = "reschedule_promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"), unique=True)
    # the interview the company cancelled
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[PromiseState] = mapped_column(_enum(PromiseState), default=PromiseState.OPEN,
                                                index=True)
    kept_by_interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"))
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    broken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the HR owner was warned (one working day before due): once
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # slots were last offered to the candidate
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WaitlistState(str, enum.Enum):
    WAITING = "waiting"
    BOOKED = "booked"     # took a freed place
    REMOVED = "removed"   # HR took them off the list

    @property
    def label(self) -> str:
        return {"waiting": "等待中", "booked": "已补位", "removed": "已移出"}[self.value]


class WaitlistEntry(TimestampMixin, db.Model):
    __tablename__ = "waitlist_entries"
    __table_args__ = (UniqueConstraint("position_id", "candidate_id",
                                       name="uq_waitlist_position_candidate"),
                      Index("ix_waitlist_position_state_rank", "position_id", "state",
                            "rank"))

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[WaitlistState] = mapped_column(_enum(WaitlistState),
                                                 default=WaitlistState.WAITING)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    booked_interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"))


class PlaceState(str, enum.Enum):
    HELD = "held"
    FILLED = "filled"
    RELEASED = "released"


class BackfillPlace(TimestampMixin, db.Model):
    __tablename__ = "backfill_places"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("interview_sessions.id"), index=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    state: Mapped[PlaceState] = mapped_column(_enum(PlaceState), default=PlaceState.HELD,
                                              index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OfferKind(str, enum.Enum):
    PROMISE = "promise"    # a slot offered to keep a rescheduling promise
    BACKFILL = "backfill"  # a freed place offered from the waiting list

    @property
    def label(self) -> str:
        return {"promise": "重新安排", "backfill": "候补补位"}[self.value]


class OfferState(str, enum.Enum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    TAKEN = "taken"          # someone else got the place (or the candidate another slot)

    @property
    def label(self) -> str:
        return {"open": "待回复", "accepted": "已接受", "declined": "已婉拒",
                "expired": "已过期", "taken": "名额已被预约"}[self.value]


def new_offer_id() -> str:
    """Opaque, unguessable id for URLs (no enumeration)."""
    return "of_" + secrets.token_urlsafe(12)


class SlotOffer(TimestampMixin, db.Model):
    __tablename__ = "slot_offers"
    __table_args__ = (Index("ix_slot_offers_candidate_state", "candidate_id", "state"),
                      Index("ix_slot_offers_state_expires", "state", "expires_at"),
                      UniqueConstraint("promise_id", "session_id",
                                       name="uq_slot_offers_promise_session"),
                      UniqueConstraint("place_id", "candidate_id",
                                       name="uq_slot_offers_place_candidate"))

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_offer_id)
    kind: Mapped[OfferKind] = mapped_column(_enum(OfferKind))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"))
    session_id: Mapped[int] = mapped_column(ForeignKey("interview_sessions.id"), index=True)
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("reschedule_promises.id"))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("backfill_places.id"), index=True)
    waitlist_entry_id: Mapped[int | None] = mapped_column(ForeignKey("waitlist_entries.id"))
    state: Mapped[OfferState] = mapped_column(_enum(OfferState), default=OfferState.OPEN)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"))
