"""Two workers running the backfill and promise jobs at the same moment (threads, each its
own app context and database connection, released by a barrier; the Redis turn is skipped
on purpose, so only the jobs' own guards stand): every place is held once per free
place, every candidate offered once, the HR owner warned once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.jobs import backfill, promises
from app.models import (
    BackfillPlace,
    InterviewSession,
    OfferKind,
    OutboxMessage,
    PlaceState,
    SlotOffer,
)
from tests import factories

NOW = datetime(2025, 12, 1, 10, 0, tzinfo=SHANGHAI)


def together(app, run, now: datetime, workers: int = 2) -> list:
    barrier = threading.Barrier(workers)
    results: list = [None] * workers

    def work(k: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[k] = run(now)
            except Exception as exc:  # reported below, with the other worker's result
                results[k] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def scalar(app, stmt):
    with app.app_context():
        return db.session.scalar(stmt)


def test_two_backfill_runs_at_once_hold_each_free_place_once_and_offer_each_candidate_once(app):
    position = factories.position(app)
    session = factories.interview_session(app, position_id=position,
                                          starts_at=datetime(2025, 12, 4, 14, tzinfo=SHANGHAI),
                                          capacity=5, booked=3)
    for rank in range(1, 5):
        factories.waitlist_entry(app, position, factories.candidate(app, name=f"候补{rank}"),
                                 rank)
    results = together(app, backfill.run, NOW)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) >= 2
    assert scalar(app, select(func.count()).select_from(BackfillPlace).where(
        BackfillPlace.state == PlaceState.HELD)) == 2
    offered = scalar(app, select(func.count(func.distinct(SlotOffer.candidate_id))).where(
        SlotOffer.kind == OfferKind.BACKFILL))
    assert offered == scalar(app, select(func.count()).select_from(SlotOffer)) == 2
    assert scalar(app, select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "candidate_slot_offer")) == 2
    assert scalar(app, select(InterviewSession.booked).where(
        InterviewSession.id == session)) == 5


def test_two_promise_runs_at_once_open_warn_and_offer_once(app):
    recruiter = factories.hr_user(app, "rec")
    position = factories.position(app, recruiter_id=recruiter)
    factories.interview_session(app, position_id=position,
                                starts_at=datetime(2025, 12, 3, 10, tzinfo=SHANGHAI))
    iv = factories.interview(app, scheduled_at=datetime(2025, 12, 2, 14, tzinfo=SHANGHAI),
                             position_id=position)
    factories.company_cancel(app, iv.public_id, NOW)
    first = together(app, promises.run, NOW)
    assert not [r for r in first if isinstance(r, Exception)], first
    warn_day = datetime(2025, 12, 3, 9, 0, tzinfo=SHANGHAI)  # due 12-04 end
    second = together(app, promises.run, warn_day + timedelta(minutes=1))
    assert not [r for r in second if isinstance(r, Exception)], second
    kinds = dict(scalar_rows(app))
    assert kinds.get("staff_promise_at_risk") == 1
    assert kinds.get("candidate_slot_offer") == 1
    assert scalar(app, select(func.count()).select_from(SlotOffer)) == 1


def scalar_rows(app):
    with app.app_context():
        return db.session.execute(select(OutboxMessage.kind, func.count())
                                  .group_by(OutboxMessage.kind)).all()
