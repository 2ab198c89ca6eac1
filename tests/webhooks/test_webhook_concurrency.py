"""Several workers sending at once never deliver one delivery twice."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
from webhook_helpers import attempts, deliveries, run

from app.models.webhook import DeliveryStatus


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_dispatch_never_delivers_twice(app, receiver, make_endpoint,
                                                  enqueue, workers):
    """PostgreSQL: SKIP LOCKED + conditional UPDATE; SQLite: the conditional UPDATE alone."""
    make_endpoint(receiver.url)
    make_endpoint(receiver.url + "/erp", name="ERP")
    for i in range(30):
        enqueue(event_id=f"interview.cancelled:{i}")
    receiver.latency = 0.01  # keep the workers' batches overlapping
    start = threading.Barrier(workers)
    handled = Counter()
    errors = []

    def work(name: str) -> None:
        try:
            start.wait()
            while n := run(app, name, limit=5):
                handled[name] += n
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w-{i}",)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    sent = Counter(receiver.delivery_ids())
    assert len(sent) == 60 and set(sent.values()) == {1}, sent.most_common(3)
    assert sum(handled.values()) == 60
    assert len([w for w in handled if handled[w]]) > 1  # the work really was shared
    rows = deliveries(app)
    assert {r.status for r in rows} == {DeliveryStatus.DELIVERED}
    assert {r.attempts for r in rows} == {1}
    assert all(len(attempts(app, r.id)) == 1 for r in rows[:5])
