"""PostgreSQL restarted under load (issue 12 §3).

Candidates keep cancelling (each with its Idempotency-Key, retrying while the answer is
503, as the mini program does) while the database is stopped and started again: every
answer is a 200 or a 503 with Retry-After (never a 500 or a hang), the same app and its
pool serve again without a restart, and every interview ends cancelled exactly once,
with exactly one message to its candidate.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Cancellation, Interview, InterviewStatus, OutboxMessage
from tests import factories

pytestmark = pytest.mark.slow

API = "/api/mp/v1"
CANDIDATES = 36
PACE_SECONDS = 0.2   # between one candidate's cancel and the next one's, per thread
THREADS = 6


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_cancels_through_a_postgres_restart_are_neither_lost_nor_doubled(
        fault_app, fault_pg, mode):
    fa = fault_app()
    app = fa.app
    factories.cancel_reason(app, "time_conflict")
    work = []
    login = app.test_client()
    for i in range(CANDIDATES):
        openid = f"pg-fault-{i:03d}"
        cand = factories.mp_candidate(app, openid, name=f"候选人{i}")
        work.append((cand["interview_ids"][0], factories.mp_login(login, openid)))

    statuses: Counter = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    started = threading.Barrier(THREADS + 1)

    def cancel_all(items):
        client = app.test_client()
        started.wait()
        for public_id, headers in items:
            key = {"Idempotency-Key": f"cancel-{public_id}"}
            deadline = time.monotonic() + 60
            while True:
                t0 = time.monotonic()
                r = client.post(f"{API}/interviews/{public_id}/cancel",
                                json={"reason_code": "time_conflict"},
                                headers={**headers, **key})
                took = time.monotonic() - t0
                with lock:
                    statuses[r.status_code] += 1
                    if took > 10:
                        problems.append(f"{public_id}: an answer took {took:.1f} s")
                if r.status_code == 200:
                    break
                if r.status_code != 503 or "Retry-After" not in r.headers:
                    with lock:
                        problems.append(f"{public_id}: {r.status_code} "
                                        f"{r.get_data(as_text=True)[:200]}")
                    break
                if time.monotonic() > deadline:
                    with lock:
                        problems.append(f"{public_id}: still 503 after 60 s")
                    break
                time.sleep(0.1)
            time.sleep(PACE_SECONDS)

    threads = [threading.Thread(target=cancel_all, args=(work[i::THREADS],))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    started.wait()
    while statuses[200] < CANDIDATES // 3:   # the restart lands in the middle of the run
        time.sleep(0.01)
    fault_pg.stop(mode)
    time.sleep(1.5)
    down = app.test_client().get(f"{API}/interviews", headers=work[0][1])
    fault_pg.start()
    for t in threads:
        t.join(120)

    assert not problems, problems
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert statuses[503] > 0, f"the restart hit no request: {dict(statuses)}"
    assert set(statuses) <= {200, 503}, dict(statuses)

    with app.app_context():
        ids = [db.session.scalar(select(Interview.id).where(Interview.public_id == p))
               for p, _ in work]
        per_interview = dict(db.session.execute(
            select(Cancellation.interview_id, func.count()).group_by(Cancellation.interview_id)
        ).all())
        messages = dict(db.session.execute(
            select(OutboxMessage.interview_id, func.count())
            .where(OutboxMessage.recipient_type == "candidate")
            .group_by(OutboxMessage.interview_id)).all())
        cancelled = db.session.scalar(select(func.count()).select_from(Interview)
                                      .where(Interview.status == InterviewStatus.CANCELLED))
        db.session.remove()
    assert cancelled == CANDIDATES
    assert per_interview == {i: 1 for i in ids}
    assert messages == {i: 1 for i in ids}
    # The same app, its pool renewed, serves again.
    assert app.test_client().get(f"{API}/interviews", headers=work[0][1]).status_code == 200
