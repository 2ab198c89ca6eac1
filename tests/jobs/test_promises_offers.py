"""Keeping the rescheduling promise: the job offers the candidate sessions of the position
that have room (never a full one, never one offered before), the candidate picks one, and
that booking keeps the promise; two candidates picking the last place: one booking, the
other a clear answer; the report counts kept and broken in the actor's scope."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.jobs import promises as job
from app.models import (
    HrUser,
    Interview,
    InterviewSession,
    OfferKind,
    OfferState,
    OutboxMessage,
    PromiseState,
    ReschedulePromise,
    Role,
    SlotOffer,
)
from app.queries.reports.filters import ReportFilters
from app.services.backfill import offers
from app.services.backfill.errors import OfferTaken
from app.services.users.actor import Actor
from tests import factories

NOW = datetime(2025, 12, 1, 10, 0, tzinfo=SHANGHAI)  # Monday: due Thursday 12-04


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def run(app, now: datetime) -> int:
    with app.app_context():
        return job.run(now)


def promised(app, position: int, n: int = 1) -> list:
    """n candidates of the position whose interviews the company cancelled at NOW with
    为候选人重新安排."""
    out = []
    for k in range(n):
        iv = factories.interview(app, number=f"AI-2025-12-03-00{k + 1}",
                                 scheduled_at=bj(2025, 12, 3, 14, 0), position_id=position,
                                 name=f"候选人{k + 1}")
        factories.company_cancel(app, iv.public_id, NOW)
        out.append(iv)
    return out


def offers_of(app, candidate_id: int) -> list[SlotOffer]:
    with app.app_context():
        return list(db.session.scalars(select(SlotOffer).where(
            SlotOffer.candidate_id == candidate_id).order_by(SlotOffer.id)))


def test_sessions_with_room_are_offered_and_booking_one_keeps_the_promise(app):
    recruiter = factories.hr_user(app, "rec")
    position = factories.position(app, recruiter_id=recruiter)
    full = factories.interview_session(app, position_id=position, starts_at=bj(2025, 12, 2, 10),
                                       capacity=1, booked=1)
    early = factories.interview_session(app, position_id=position,
                                        starts_at=bj(2025, 12, 2, 14), capacity=2)
    later = factories.interview_session(app, position_id=position,
                                        starts_at=bj(2025, 12, 3, 10), capacity=2)
    [iv] = promised(app, position)
    run(app, NOW)
    made = offers_of(app, iv.candidate_id)
    assert [o.session_id for o in made] == [early, later]  # the full one is not offered
    assert {o.kind for o in made} == {OfferKind.PROMISE}
    assert all(o.expires_at <= bj(2025, 12, 4, 23, 59, 59) for o in made)
    assert full not in [o.session_id for o in made]
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "candidate_slot_offer")).one()
        assert message.recipient_id == iv.candidate_id
        assert message.context["slot_starts_at"] == "2025-12-02T14:00:00+08:00"
    assert run(app, NOW + timedelta(minutes=1)) == 0  # offered once, not every minute

    with app.app_context():
        booked = offers.accept(iv.candidate_id, made[1].public_id, bj(2025, 12, 1, 12))
        promise = db.session.scalars(select(ReschedulePromise)).one()
        assert (promise.state, promise.kept_by_interview_id) == (PromiseState.KEPT,
                                                                  booked.interview_id)
        new = db.session.get(Interview, booked.interview_id)
        assert (new.session_id, new.candidate_id) == (later, iv.candidate_id)
        assert db.session.get(InterviewSession, later).booked == 1
        told = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "staff_interview_booked")).one()
        assert (told.recipient_id, told.interview_id) == (recruiter, booked.interview_id)
        assert told.context["reason_label"] == "重新安排"
    states = [o.state for o in offers_of(app, iv.candidate_id)]
    assert states == [OfferState.TAKEN, OfferState.ACCEPTED]


def test_two_promised_candidates_and_one_place_one_booking_and_one_clear_answer(app):
    position = factories.position(app)
    last = factories.interview_session(app, position_id=position, starts_at=bj(2025, 12, 2, 14),
                                       capacity=3, booked=2)
    first, second = promised(app, position, 2)
    run(app, NOW)
    o1, o2 = offers_of(app, first.candidate_id)[0], offers_of(app, second.candidate_id)[0]
    assert o1.session_id == o2.session_id == last
    with app.app_context():
        offers.accept(second.candidate_id, o2.public_id, bj(2025, 12, 1, 11))
        with pytest.raises(OfferTaken) as refused:
            offers.accept(first.candidate_id, o1.public_id, bj(2025, 12, 1, 11, 5))
        assert refused.value.code == "offer_taken" and "已被" in refused.value.message
        session = db.session.get(InterviewSession, last, populate_existing=True)
        assert session.booked == session.capacity == 3
    assert offers_of(app, first.candidate_id)[0].state == OfferState.TAKEN
    # the one left without a place is offered again when room appears
    more = factories.interview_session(app, position_id=position, starts_at=bj(2025, 12, 3, 9),
                                       capacity=1)
    run(app, bj(2025, 12, 1, 12))
    assert [o.session_id for o in offers_of(app, first.candidate_id)
            if o.state == OfferState.OPEN] == [more]


def test_the_companys_systems_hear_of_the_booking_and_of_a_broken_promise(app):
    from app.models import WebhookDelivery

    factories.webhook_endpoint(app, "https://ats.example.com/hook",
                               events=("interview.booked", "promise.broken"))
    position = factories.position(app)
    factories.interview_session(app, position_id=position, starts_at=bj(2025, 12, 2, 14))
    kept, broken = promised(app, position, 2)
    run(app, NOW)
    with app.app_context():
        done = offers.accept(kept.candidate_id, offers_of(app, kept.candidate_id)[0].public_id,
                             bj(2025, 12, 1, 11))
    run(app, bj(2025, 12, 5, 0, 0))
    run(app, bj(2025, 12, 5, 0, 1))
    with app.app_context():
        bodies = {d.event_type: d.payload for d in db.session.scalars(select(WebhookDelivery))}
    assert set(bodies) == {"interview.booked", "promise.broken"}
    assert bodies["interview.booked"]["interview"]["id"] == done.interview_public_id
    assert bodies["interview.booked"]["offer"] == {"kind": "promise"}
    assert bodies["promise.broken"]["promise"] == {"due_at": "2025-12-04T23:59:59+08:00",
                                                   "state": "broken"}
    assert bodies["promise.broken"]["interview"]["id"] == broken.public_id


def test_another_candidates_offer_is_not_found(app):
    from app.services.backfill.errors import OfferNotFound

    position = factories.position(app)
    factories.interview_session(app, position_id=position, starts_at=bj(2025, 12, 2, 14))
    [iv] = promised(app, position)
    run(app, NOW)
    offer = offers_of(app, iv.candidate_id)[0]
    stranger = factories.candidate(app, name="路人")
    with app.app_context():
        with pytest.raises(OfferNotFound):
            offers.accept(stranger, offer.public_id, NOW)
        with pytest.raises(OfferNotFound):
            offers.decline(stranger, offer.public_id, NOW)


def test_the_report_counts_kept_broken_and_open_in_the_actors_departments(app):
    from app.console.promise_report import promise_report, promise_tables

    tech = factories.position(app)
    sales = factories.position(app, title="销售代表", department="销售部")
    factories.interview_session(app, position_id=tech, starts_at=bj(2025, 12, 2, 14))
    [kept] = promised(app, tech)
    broken = factories.interview(app, number="AI-2025-12-03-009", position_id=sales,
                                 scheduled_at=bj(2025, 12, 3, 15), name="销售候选人")
    factories.company_cancel(app, broken.public_id, NOW)
    run(app, NOW)
    with app.app_context():
        offers.accept(kept.candidate_id, offers_of(app, kept.candidate_id)[0].public_id,
                      bj(2025, 12, 1, 11))
    run(app, bj(2025, 12, 5, 9))  # past due: the sales promise is broken
    specialist = factories.hr_user(app, "tech-only", departments=("技术部",))
    factories.hr_user(app, "boss", role=Role.ADMIN, departments=())
    period = ReportFilters(bj(2025, 12, 1).date(), bj(2025, 12, 31).date())
    with app.app_context():
        admin = Actor.hr(db.session.scalars(select(HrUser).where(
            HrUser.username == "boss")).one())
        report = promise_report(admin, period)
        assert (report.total("kept"), report.total("broken"), report.total("open")) == (1, 1, 0)
        assert report.kept_rate == 0.5
        tables = {t.key: t for t in promise_tables(report)}
        assert tables["promise_states"].rows[0][:2] == ["已兑现", 1]
        assert tables["promise_positions"].footer == ["合计", "", 1, 1, 0, 50.0]
        mine = promise_report(Actor.hr(db.session.get(HrUser, specialist)), period)
        assert [(p.department, p.kept, p.broken) for p in mine.positions] == [("技术部", 1, 0)]
