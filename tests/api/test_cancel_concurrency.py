"""50 concurrent cancels of one interview over real HTTP (mixed Idempotency-Keys): one
cancellation, one outbox row per recipient, and only 200/409 answers."""
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import Cancellation, Interview, OutboxMessage
from tests.factories import API


@pytest.mark.slow
@pytest.mark.parametrize("n_requests,n_keys", [(50, 10)])
def test_concurrent_cancels(app, demo, live_url, mp_login, n_requests, n_keys):
    app.config["RATE_LIMITS"] = {"cancel": {"ip": (1000, 60), "user": (1000, 60)}}
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    auth = mp_login(cand["openid"])
    iv_id = cand["interview_ids"][0]
    keys = [str(uuid.uuid4()) for _ in range(n_keys)]

    def fire(i):
        r = requests.post(f"{live_url}{API}/interviews/{iv_id}/cancel",
                          headers={**auth, "Idempotency-Key": keys[i % n_keys]},
                          json={"reason_code": "time_conflict"}, timeout=30)
        return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=n_requests) as pool:
        results = list(pool.map(fire, range(n_requests)))

    statuses = [s for s, _ in results]
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    codes_409 = {b["error"]["code"] for s, b in results if s == 409}
    assert codes_409 <= {"already_cancelled", "request_in_progress"}
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == iv_id)).one()
        assert iv.status.value == "cancelled"
        assert db.session.scalar(select(func.count()).select_from(Cancellation)
                                 .where(Cancellation.interview_id == iv.id)) == 1
        rows = db.session.execute(select(OutboxMessage.recipient_type, OutboxMessage.recipient_id,
                                         func.count()).where(OutboxMessage.interview_id == iv.id)
                                  .group_by(OutboxMessage.recipient_type,
                                            OutboxMessage.recipient_id)).all()
        assert rows and all(count == 1 for _, _, count in rows)
