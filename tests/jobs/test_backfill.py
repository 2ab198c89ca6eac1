"""Backfill, driven by the clock: a place freed by a cancel is offered to the first waiting
candidate in HR's order; the offer holds the place for 12 hours (exactly at the end it
lapses) and the next candidate is offered when it expires or is declined; a candidate
already booked in the position is skipped; nobody left: the place goes back; accepting
books one interview and never overfills the session."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.jobs import backfill as job
from app.jobs.schedule import get_job
from app.models import (
    AuditEntry,
    BackfillPlace,
    Interview,
    InterviewSession,
    OfferKind,
    OfferState,
    OutboxMessage,
    PlaceState,
    SlotOffer,
    WaitlistEntry,
    WaitlistState,
)
from app.services.backfill import offers
from app.services.backfill.errors import AlreadyBooked, OfferExpired, OfferTaken
from tests import factories

NOW = datetime(2025, 12, 1, 10, 0, tzinfo=SHANGHAI)   # Monday
SLOT = datetime(2025, 12, 4, 14, 0, tzinfo=SHANGHAI)  # Thursday


def run(app, now: datetime) -> int:
    with app.app_context():
        return job.run(now)


@pytest.fixture
def world(app):
    """A session of one place... two, both booked; three candidates waiting (A, B, C)."""
    position = factories.position(app)
    session = factories.interview_session(app, position_id=position, starts_at=SLOT,
                                          capacity=2, booked=2)
    booked = [factories.interview(app, number=f"AI-2025-12-04-00{n}", scheduled_at=SLOT,
                                  position_id=position, session_id=session,
                                  name=f"已约{n}") for n in (1, 2)]
    waiting = {}
    for rank, name in enumerate("ABC", start=1):
        cid = factories.candidate(app, name=f"候补{name}")
        waiting[name] = cid
        factories.waitlist_entry(app, position, cid, rank)
    return SimpleNamespace(position=position, session=session, booked=booked,
                           waiting=waiting)


def free_one(app, world) -> None:
    factories.company_cancel(app, world.booked[0].public_id, NOW - timedelta(minutes=5),
                             reschedule=False)


def open_offers(app) -> dict[int, SlotOffer]:
    with app.app_context():
        return {o.candidate_id: o for o in db.session.scalars(
            select(SlotOffer).where(SlotOffer.state == OfferState.OPEN))}


def session_booked(app, world) -> int:
    with app.app_context():
        return db.session.get(InterviewSession, world.session, populate_existing=True).booked


def test_the_job_is_in_the_schedule():
    assert get_job("backfill").run is not None


def test_a_full_session_offers_nothing(app, world):
    assert run(app, NOW) == 0
    assert open_offers(app) == {}


def test_a_freed_place_is_held_and_offered_to_the_first_waiting_candidate(app, world):
    free_one(app, world)
    assert session_booked(app, world) == 1
    run(app, NOW)
    offered = open_offers(app)
    assert list(offered) == [world.waiting["A"]]
    assert offered[world.waiting["A"]].expires_at == NOW + timedelta(hours=12)
    assert session_booked(app, world) == 2  # held: nobody else can take it meanwhile
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "candidate_slot_offer")).one()
        assert message.recipient_id == world.waiting["A"]
        assert message.context["slot_starts_at"] == "2025-12-04T14:00:00+08:00"
    assert run(app, NOW + timedelta(minutes=1)) == 0  # the next minute: nothing new


def test_exactly_at_twelve_hours_the_offer_lapses_and_the_next_candidate_is_offered(app, world):
    free_one(app, world)
    run(app, NOW)
    run(app, NOW + timedelta(hours=12) - timedelta(seconds=1))
    assert list(open_offers(app)) == [world.waiting["A"]]
    run(app, NOW + timedelta(hours=12))
    assert list(open_offers(app)) == [world.waiting["B"]]
    assert session_booked(app, world) == 2  # the place stays held for the list
    with app.app_context():
        a = db.session.scalars(select(SlotOffer).where(
            SlotOffer.candidate_id == world.waiting["A"])).one()
        assert a.state == OfferState.EXPIRED
        public_id = a.public_id
    with app.app_context(), pytest.raises(OfferExpired):
        offers.accept(world.waiting["A"], public_id, NOW + timedelta(hours=13))


def test_a_decline_offers_the_next_candidate_at_once_and_the_last_one_frees_the_place(app, world):
    free_one(app, world)
    run(app, NOW)
    for name, nxt in (("A", "B"), ("B", "C")):
        with app.app_context():
            offers.decline(world.waiting[name], open_offers(app)[world.waiting[name]].public_id,
                           NOW + timedelta(hours=1))
        assert list(open_offers(app)) == [world.waiting[nxt]]
    with app.app_context():
        offers.decline(world.waiting["C"], open_offers(app)[world.waiting["C"]].public_id,
                       NOW + timedelta(hours=2))
    assert open_offers(app) == {}
    assert session_booked(app, world) == 1  # nobody left: the place goes back
    with app.app_context():
        assert db.session.scalars(select(BackfillPlace.state)).all() == [PlaceState.RELEASED]
    run(app, NOW + timedelta(hours=3))  # and nobody is asked twice for the same session
    assert open_offers(app) == {}


def test_a_candidate_already_booked_in_the_position_is_skipped(app, world):
    factories.interview(app, number="AI-2025-12-05-001", candidate_id=world.waiting["A"],
                        position_id=world.position,
                        scheduled_at=SLOT + timedelta(days=1))
    free_one(app, world)
    run(app, NOW)
    assert list(open_offers(app)) == [world.waiting["B"]]


def test_accepting_books_the_place_and_closes_the_entry(app, world):
    free_one(app, world)
    run(app, NOW)
    offer = open_offers(app)[world.waiting["A"]]
    with app.app_context():
        done = offers.accept(world.waiting["A"], offer.public_id, NOW + timedelta(hours=1))
        iv = db.session.get(Interview, done.interview_id)
        assert (iv.candidate_id, iv.position_id, iv.session_id, iv.scheduled_at) == (
            world.waiting["A"], world.position, world.session, SLOT)
        assert iv.number.startswith("AI-2025-12-04-")
        entry = db.session.scalars(select(WaitlistEntry).where(
            WaitlistEntry.candidate_id == world.waiting["A"])).one()
        assert (entry.state, entry.booked_interview_id) == (WaitlistState.BOOKED, iv.id)
        assert db.session.scalars(select(BackfillPlace.state)).all() == [PlaceState.FILLED]
        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {"backfill.place_held", "backfill.offered", "offer.accepted",
                "interview.created"} <= actions
        # a slot of another session of the position (room there): refused, not booked
        with pytest.raises(AlreadyBooked):
            free = factories.interview_session(app, position_id=world.position,
                                               starts_at=SLOT + timedelta(days=2), capacity=1)
            db.session.add(SlotOffer(kind=OfferKind.PROMISE, candidate_id=world.waiting["A"],
                                     position_id=world.position, session_id=free,
                                     state=OfferState.OPEN,
                                     expires_at=NOW + timedelta(hours=5)))
            db.session.commit()
            second = db.session.scalars(select(SlotOffer).where(
                SlotOffer.session_id == free)).one()
            offers.accept(world.waiting["A"], second.public_id, NOW + timedelta(hours=2))
    assert session_booked(app, world) == 2  # never over capacity
    run(app, NOW + timedelta(hours=2))
    # the other session's free place goes to B: A has an interview of the position now
    backfill = {c: o for c, o in open_offers(app).items() if o.kind == OfferKind.BACKFILL}
    assert list(backfill) == [world.waiting["B"]]


def test_with_a_fanout_the_first_to_accept_wins_and_the_others_hear_offer_taken(app, world):
    app.config["BACKFILL_OFFER_FANOUT"] = 3
    free_one(app, world)
    run(app, NOW)
    offered = open_offers(app)
    assert set(offered) == set(world.waiting.values())
    later = NOW + timedelta(hours=1)
    with app.app_context():
        offers.accept(world.waiting["B"], offered[world.waiting["B"]].public_id, later)
        for name in "AC":
            with pytest.raises(OfferTaken):
                offers.accept(world.waiting[name], offered[world.waiting[name]].public_id,
                              later)
        states = dict(db.session.execute(select(SlotOffer.candidate_id, SlotOffer.state)).all())
        assert states == {world.waiting["A"]: OfferState.TAKEN,
                          world.waiting["B"]: OfferState.ACCEPTED,
                          world.waiting["C"]: OfferState.TAKEN}
        assert db.session.scalar(select(func.count()).select_from(Interview).where(
            Interview.session_id == world.session, Interview.status == "scheduled")) == 2
    assert session_booked(app, world) == 2


def test_a_position_no_longer_recruiting_offers_nothing(app, world):
    from app.models import Position

    with factories.committed(app) as session:
        session.get(Position, world.position).active = False
    free_one(app, world)
    run(app, NOW)
    assert open_offers(app) == {}
    assert session_booked(app, world) == 1


def test_a_held_place_is_released_when_the_session_gets_too_close(app, world):
    free_one(app, world)
    run(app, NOW)
    run(app, SLOT - timedelta(hours=2))  # the candidates' cancel deadline (2 h)
    assert open_offers(app) == {}
    assert session_booked(app, world) == 1


def test_a_run_taken_over_by_a_later_one_stops_before_its_next_step(app, world):
    from app.core import fencing

    free_one(app, world)
    with app.app_context(), fencing.running(lambda: False):  # superseded from the start
        assert job.run(NOW) == 0
    assert open_offers(app) == {}
    assert run(app, NOW) >= 1  # the next turn carries on
    assert list(open_offers(app)) == [world.waiting["A"]]
