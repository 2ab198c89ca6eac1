"""Cancel, reschedule and notification failures reach the company's systems as signed
webhooks, through the same worker that sends WeChat messages."""
import json

from sqlalchemy import select

from app.extensions import db
from app.jobs.worker import drain
from app.models import Interview
from app.services.webhooks.sender import verify_signature
from tests.factories import API, WEBHOOK_SECRET, mp_login


def test_candidate_cancel_reaches_the_ats_signed(app, client, demo, receiver, make_endpoint):
    make_endpoint(receiver.url, events=("interview.cancelled", "interview.cancel_requested"))
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                    headers=mp_login(client, cand["openid"]), json={"reason_code": "personal"})
    assert r.status_code == 200
    drain(app)
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert verify_signature(WEBHOOK_SECRET, req.headers["X-Aiic-Timestamp"], req.body,
                            req.headers["X-Aiic-Signature"])
    body = json.loads(req.body)
    assert body["event"] == "interview.cancelled"
    assert body["interview"]["id"] == cand["interview_ids"][0]
    assert body["reason"] == {"code": "personal", "label": "个人原因"}
    assert body["actor"]["type"] == "candidate"
    assert "phone" not in req.body.decode()


def test_review_position_sends_cancel_requested(app, client, demo, receiver, make_endpoint):
    make_endpoint(receiver.url, events=("interview.cancel_requested",))
    cand = next(c for c in demo["candidates"] if c["position_review"])
    client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                headers=mp_login(client, cand["openid"]), json={"reason_code": "personal"})
    drain(app)
    assert [json.loads(r.body)["event"] for r in receiver.requests] == [
        "interview.cancel_requested"]


def test_unreachable_candidate_fires_notification_failed(app, client, demo, receiver,
                                                        make_endpoint):
    make_endpoint(receiver.url, events=("notification.failed",))
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == cand["interview_ids"][0])).one()
        iv.candidate.phone = None
        iv.candidate.email = None
        db.session.commit()
    client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                headers=mp_login(client, cand["openid"]), json={"reason_code": "personal"})
    drain(app)
    events = [json.loads(r.body) for r in receiver.requests]
    assert [e["event"] for e in events] == ["notification.failed"]
    assert events[0]["notification"]["status"] == "unreachable"
    assert events[0]["interview"]["id"] == cand["interview_ids"][0]
