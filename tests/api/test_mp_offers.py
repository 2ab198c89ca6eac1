"""The candidate's slot offers through the mini-program API: listed with their slot and
deadline, accepted once (Idempotency-Key replays), declined (the next waiting candidate is
offered), another candidate's offer is 404; and 20 candidates accepting one freed place at
the same moment over real HTTP: one booking, 19 clear answers (offer_taken)."""
from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import requests
from sqlalchemy import func, select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    BackfillPlace,
    Interview,
    InterviewSession,
    OfferState,
    PlaceState,
    SlotOffer,
)
from tests import factories
from tests.factories import API, bearer, mp_token


def waiting_world(app, n: int, *, fanout: int = 1) -> SimpleNamespace:
    """factories.freed_place: a full session, one of its interviews cancelled, n
    candidates bound to WeChat waiting in that order; the backfill job has run."""
    return factories.freed_place(app, n, fanout=fanout)


def test_a_candidate_lists_their_open_offer_with_its_slot_and_deadline(app, client):
    world = waiting_world(app, 2)
    first, second = world.people
    items = client.get(f"{API}/offers", headers=factories.mp_login(client, first.openid)
                       ).get_json()["items"]
    assert len(items) == 1
    offer = items[0]
    assert (offer["kind"], offer["kind_label"], offer["state"]) == ("backfill", "候补补位",
                                                                    "open")
    assert offer["position"] == {"title": "Java工程师", "department": "技术部"}
    assert offer["id"].startswith("of_") and offer["interview_id"] is None
    # the second candidate waits: no offer yet
    assert client.get(f"{API}/offers", headers=factories.mp_login(client, second.openid)
                      ).get_json()["items"] == []


def test_another_candidates_offer_answers_404(app, client):
    world = waiting_world(app, 2)
    first, second = world.people
    offer_id = client.get(f"{API}/offers", headers=factories.mp_login(client, first.openid)
                          ).get_json()["items"][0]["id"]
    other = factories.mp_login(client, second.openid)
    for action in ("accept", "decline"):
        r = client.post(f"{API}/offers/{offer_id}/{action}", headers=other)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "offer_not_found"
    with app.app_context():
        assert db.session.scalars(select(SlotOffer.state)).all() == [OfferState.OPEN]


def test_accepting_books_once_and_the_same_key_replays_the_answer(app, client):
    world = waiting_world(app, 1)
    headers = factories.mp_login(client, world.people[0].openid)
    offer_id = client.get(f"{API}/offers", headers=headers).get_json()["items"][0]["id"]
    key = {**headers, "Idempotency-Key": "accept-1"}
    r = client.post(f"{API}/offers/{offer_id}/accept", headers=key)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["offer"]["state"] == "accepted"
    assert body["interview"]["status"] == "scheduled"
    assert body["offer"]["interview_id"] == body["interview"]["id"]
    again = client.post(f"{API}/offers/{offer_id}/accept", headers=key)
    assert again.get_json() == body and again.headers["Idempotent-Replayed"] == "true"
    late = client.post(f"{API}/offers/{offer_id}/accept", headers=headers)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "offer_accepted"
    # the booking is in the candidate's list of interviews
    ids = [i["id"] for i in client.get(f"{API}/interviews", headers=headers).get_json()["items"]]
    assert body["interview"]["id"] in ids
    with app.app_context():
        assert db.session.get(InterviewSession, world.session).booked == 2


def test_declining_offers_the_place_to_the_next_candidate(app, client):
    world = waiting_world(app, 2)
    first, second = world.people
    headers = factories.mp_login(client, first.openid)
    offer_id = client.get(f"{API}/offers", headers=headers).get_json()["items"][0]["id"]
    r = client.post(f"{API}/offers/{offer_id}/decline", headers=headers)
    assert r.status_code == 200 and r.get_json()["offer"]["state"] == "declined"
    r = client.post(f"{API}/offers/{offer_id}/accept", headers=headers)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "offer_declined"
    assert r.get_json()["error"]["message"] == "您已婉拒该邀约"
    items = client.get(f"{API}/offers", headers=factories.mp_login(client, second.openid)
                       ).get_json()["items"]
    assert len(items) == 1 and items[0]["state"] == "open"


def test_an_expired_offer_is_refused_in_chinese(app, client):
    world = waiting_world(app, 1)
    headers = factories.mp_login(client, world.people[0].openid)
    offer_id = client.get(f"{API}/offers", headers=headers).get_json()["items"][0]["id"]
    with app.app_context():
        offer = db.session.scalars(select(SlotOffer)).one()
        offer.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    r = client.post(f"{API}/offers/{offer_id}/accept", headers=headers)
    assert r.status_code == 409
    assert r.get_json()["error"] == {"code": "offer_expired", "message": "该邀约已过期",
                                     "details": r.get_json()["error"]["details"]}


def test_offers_need_a_bound_candidate(app, client):
    assert client.get(f"{API}/offers").status_code == 401
    stranger = factories.mp_login(client, "sandbox-nobody")
    assert client.get(f"{API}/offers", headers=stranger).status_code == 403


def test_twenty_candidates_accepting_one_place_at_once_get_one_booking(app, live_url):
    """Real concurrency: 20 threads, each its own HTTP connection to the live server and
    so its own database connection, released together by a barrier."""
    # PostgreSQL: row locks and READ COMMITTED re-checks; SQLite: one writer at a time
    world = waiting_world(app, 20, fanout=20)
    tokens = [mp_token(live_url, p.openid) for p in world.people]
    offer_ids = []
    for token in tokens:
        r = requests.get(f"{live_url}{API}/offers", headers=bearer(token), timeout=10)
        [item] = r.json()["items"]
        offer_ids.append(item["id"])
    assert len(set(offer_ids)) == 20
    barrier = threading.Barrier(20)
    answers: list = [None] * 20

    def accept(k: int) -> None:
        with requests.Session() as http:
            barrier.wait()
            r = http.post(f"{live_url}{API}/offers/{offer_ids[k]}/accept",
                          headers=bearer(tokens[k]), timeout=30)
            answers[k] = (r.status_code, r.json())

    threads = [threading.Thread(target=accept, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(a[0] for a in answers)
    assert statuses == [200] + [409] * 19, answers
    losers = [a[1]["error"] for a in answers if a[0] == 409]
    assert {e["code"] for e in losers} == {"offer_taken"}
    assert {e["message"] for e in losers} == {"该名额已被其他候选人预约，请等待下一次邀约"}
    with app.app_context():
        session = db.session.get(InterviewSession, world.session)
        assert session.booked == session.capacity == 2
        assert db.session.scalar(select(func.count()).select_from(Interview).where(
            Interview.session_id == world.session, Interview.status == "scheduled")) == 2
        assert db.session.scalars(select(BackfillPlace.state)).all() == [PlaceState.FILLED]
        states = db.session.scalars(select(SlotOffer.state)).all()
        assert sorted(s.value for s in states) == ["accepted"] + ["taken"] * 19
