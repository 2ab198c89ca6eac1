"""Redis taken away and brought back (issue 12 §3).

While Redis is down: the candidate API and the WeChat callbacks answer 503 with
Retry-After (WeChat retries a callback that did not answer 200) and change nothing; the
console keeps serving what needs no Redis (its sign-in page, health, static files) and
answers the rest with its Chinese 503 page; an app can still be built (so `make run`,
gunicorn and `flask worker` start); the worker keeps running. When Redis is back, the
same requests succeed, once, with no idempotency or rate-limit state blocking anyone.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Interview, InterviewStatus, OutboxMessage
from tests import factories
from tests.wechat import wechat_sender

pytestmark = pytest.mark.slow

API = "/api/mp/v1"


def _outage_answer(response, service: str = "redis") -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["message"] == "服务暂时不可用，请稍后再试"
    assert body["error"]["details"]["service"] == service
    assert body["error"]["details"]["request_id"] == response.headers["X-Request-Id"]


def _interview_status(app, public_id: str) -> InterviewStatus:
    with app.app_context():
        status = db.session.scalar(select(Interview.status)
                                   .where(Interview.public_id == public_id))
        db.session.remove()
    return status


def _outbox_count(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        db.session.remove()
    return n


def _candidate(app, openid: str = "fault-openid-1"):
    factories.cancel_reason(app, "time_conflict")
    cand = factories.mp_candidate(app, openid)
    return cand["interview_ids"][0]


def test_api_and_callbacks_answer_503_with_retry_after_and_change_nothing(
        fault_app, fault_redis):
    fa = fault_app()
    app, client = fa.app, fa.app.test_client()
    public_id = _candidate(app)
    headers = factories.mp_login(client, "fault-openid-1", bound=True)
    fault_redis.stop(save=True)

    _outage_answer(client.post(f"{API}/auth/login", json={"code": "sandbox:fault-openid-1"}))
    _outage_answer(client.get(f"{API}/interviews", headers=headers))
    _outage_answer(client.post(f"{API}/interviews/{public_id}/cancel",
                               json={"reason_code": "time_conflict"},
                               headers={**headers, "Idempotency-Key": "cancel-1"}))
    sender = wechat_sender.Sender(app, client, "mp")
    pushed = sender.send(wechat_sender.subscribe_popup("fault-openid-1", {"tpl-x": "accept"}))
    assert pushed.status_code == 503
    assert pushed.headers["Retry-After"] == "5"
    assert pushed.get_data(as_text=True) == "service unavailable"

    assert _interview_status(app, public_id) == InterviewStatus.SCHEDULED
    assert _outbox_count(app) == 0


def test_console_serves_what_needs_no_redis_and_a_chinese_503_for_the_rest(
        fault_app, fault_redis):
    fa = fault_app()
    app = fa.app
    factories.hr_user(app, "zhaopin")
    hr = factories.console_client(app, "zhaopin", factories.PASSWORD)
    fault_redis.stop(save=True)

    anonymous = app.test_client()
    login_page = anonymous.get("/console/login")
    assert login_page.status_code == 200
    assert "登录" in login_page.get_data(as_text=True)
    assert anonymous.get("/healthz").status_code == 200
    ready = anonymous.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["redis"]["ok"] is False
    assert ready.get_json()["checks"]["database"]["ok"] is True

    page = hr.get("/console/interviews")   # the session record lives in Redis
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "服务暂时不可用" in text and "Traceback" not in text
    assert page.headers["Retry-After"] == "5"


def test_an_app_builds_while_redis_is_down(fault_app, fault_redis):
    """`make run`, gunicorn and `flask worker` build the app at start: a Redis that is
    down then must not stop them."""
    fault_redis.stop()
    fa = fault_app()
    assert fa.app.test_client().get("/healthz").status_code == 200


def test_after_redis_returns_the_same_requests_succeed_once(fault_app, fault_redis):
    fa = fault_app()
    app, client = fa.app, fa.app.test_client()
    public_id = _candidate(app)
    headers = {**factories.mp_login(client, "fault-openid-1", bound=True),
               "Idempotency-Key": "cancel-after-outage"}
    body = {"reason_code": "time_conflict"}
    fault_redis.stop(save=True)
    for _ in range(3):   # the mini program retries during the outage
        assert client.post(f"{API}/interviews/{public_id}/cancel", json=body,
                           headers=headers).status_code == 503
    fault_redis.start()

    first = client.post(f"{API}/interviews/{public_id}/cancel", json=body, headers=headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "cancelled"
    replay = client.post(f"{API}/interviews/{public_id}/cancel", json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert _interview_status(app, public_id) == InterviewStatus.CANCELLED
    with app.app_context():
        from app.models import Cancellation

        assert db.session.scalar(select(func.count()).select_from(Cancellation)) == 1
        db.session.remove()


def test_a_redis_that_lost_its_data_asks_candidates_to_log_in_again(fault_app, fault_redis):
    fa = fault_app()
    app, client = fa.app, fa.app.test_client()
    public_id = _candidate(app)
    headers = factories.mp_login(client, "fault-openid-1", bound=True)
    fault_redis.stop()          # no persistence: sessions, tokens, counters are gone
    fault_redis.start()

    expired = client.get(f"{API}/interviews", headers=headers)
    assert expired.status_code == 401
    assert expired.get_json()["error"]["code"] == "session_invalid"
    headers = factories.mp_login(client, "fault-openid-1", bound=True)
    done = client.post(f"{API}/interviews/{public_id}/cancel",
                       json={"reason_code": "time_conflict"},
                       headers={**headers, "Idempotency-Key": "k"})
    assert done.status_code == 200, done.get_json()


def test_the_worker_keeps_running_through_an_outage_and_sends_after_it(
        fault_app, fault_redis):
    from app.jobs.worker import Worker

    fa = fault_app(WORKER_SWEEP_SECONDS=0.5)
    app, client = fa.app, fa.app.test_client()
    public_id = _candidate(app)
    headers = factories.mp_login(client, "fault-openid-1", bound=True)
    fault_redis.stop(save=True)
    worker = Worker(app)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        time.sleep(3)
        assert thread.is_alive(), "the worker exited while Redis was down"
        fault_redis.start()
        cancelled = client.post(f"{API}/interviews/{public_id}/cancel",
                                json={"reason_code": "time_conflict"},
                                headers={**headers, "Idempotency-Key": "k"})
        assert cancelled.status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with app.app_context():
                pending = db.session.scalar(
                    select(func.count()).select_from(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None),
                           OutboxMessage.status.notin_(("failed", "unreachable"))))
                total = db.session.scalar(select(func.count()).select_from(OutboxMessage))
                db.session.remove()
            if total and not pending:
                break
            time.sleep(0.2)
        assert total and not pending, f"{pending} of {total} messages not handled"
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(15)
    assert not thread.is_alive()
