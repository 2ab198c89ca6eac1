"""/metrics families of issue 12 §7, computed at scrape time: cancellations by initiator
and state, WeChat errcodes by channel, callbacks by outcome (Redis counters, best effort)
and scheduled job runs by outcome with each job's last run; behind the same token."""
from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.core import counters
from app.jobs.schedule import Job
from app.jobs.turns import run_turn
from app.models import CancellationState, OutboxStatus
from tests import factories
from tests.wechat.wechat_sender import Sender, subscribe_popup


@pytest.fixture(autouse=True)
def fresh_counters(app):
    """Counts another test left in this process's buffer go out before this test starts."""
    from app.extensions import redis_store

    with app.app_context():
        counters.flush()
        redis_store.client.delete(counters._key(counters.CALLBACKS),
                                  counters._key(counters.JOB_RUNS))


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(r.get_data(as_text=True))
            for sample in family.samples}


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_cancellations_are_counted_by_initiator_and_state(app, client):
    made = [("candidate", CancellationState.EFFECTIVE, None),
            ("candidate", CancellationState.EFFECTIVE, None),
            ("candidate", CancellationState.REQUESTED, None),
            ("hr", CancellationState.EFFECTIVE, None),
            ("hr", CancellationState.EFFECTIVE, "b_batch1"),
            ("system", CancellationState.EFFECTIVE, None)]
    for i, (actor_type, state, batch_id) in enumerate(made):
        iv = factories.interview(app, number=f"AI-2026-12-01-{i:03d}")
        factories.cancellation(app, iv.id, state=state, actor_type=actor_type,
                               batch_id=batch_id)
    samples = scrape(client)
    name = "aiic_cancellations_total"
    assert value(samples, name, initiator="candidate", state="effective") == 2
    assert value(samples, name, initiator="candidate", state="requested") == 1
    assert value(samples, name, initiator="hr", state="effective") == 1
    assert value(samples, name, initiator="batch", state="effective") == 1
    assert value(samples, name, initiator="system", state="effective") == 1
    assert sum(v for (n, _), v in samples.items() if n == name) == len(made)


def test_wechat_errcodes_are_counted_by_code_and_channel(app, client):
    for errcode, channel in ((43101, "subscribe"), (43101, "subscribe"),
                             (40003, "oa_template"), (None, "subscribe")):
        factories.outbox_message(app, status=OutboxStatus.FAILED if errcode else
                                 OutboxStatus.SENT, channel=channel, errcode=errcode)
    samples = scrape(client)
    assert value(samples, "aiic_wechat_errcodes", errcode="43101", channel="subscribe") == 2
    assert value(samples, "aiic_wechat_errcodes", errcode="40003", channel="oa_template") == 1
    assert sum(v for (n, _), v in samples.items() if n == "aiic_wechat_errcodes") == 3


def test_callbacks_are_counted_by_app_and_outcome(app, client):
    mp, oa = Sender(app, client, "mp"), Sender(app, client, "oa")
    query, body = mp.encrypted(subscribe_popup("o-metrics", {"tpl-x": "accept"}))
    assert mp.post(query, body).status_code == 200           # accepted
    assert mp.post(query, body).status_code == 200           # WeChat's retry: duplicate
    forged, body = mp.encrypted(subscribe_popup("o-metrics", {"tpl-x": "reject"}))
    assert mp.post(dict(forged, msg_signature="0" * 40), body).status_code == 403
    stale = str(int(time.time()) - 3600)
    assert mp.post(*mp.encrypted(subscribe_popup("o-m", {"tpl-x": "accept"}),
                                 timestamp=stale)).status_code == 403
    logged, _ = oa.encrypted(subscribe_popup("o-m", {"tpl-x": "accept"}))
    copied = {k: logged[k] for k in ("signature", "timestamp", "nonce")}
    assert oa.post(copied, "<xml><MsgType>event</MsgType></xml>").status_code == 403
    assert mp.post(*mp.encrypted("<xml><MsgType>event</MsgType>" + "x" * 300_000 + "</xml>")
                   ).status_code == 413
    ts = str(int(time.time()))
    assert client.get(oa.url, query_string={"signature": oa.signature(ts, "7"),
                                            "timestamp": ts, "nonce": "7",
                                            "echostr": "hello"}).data == b"hello"
    samples = scrape(client)
    name = "aiic_wechat_callbacks_total"
    assert value(samples, name, app="mp", outcome="accepted") == 1
    assert value(samples, name, app="mp", outcome="duplicate") == 1
    assert value(samples, name, app="mp", outcome="refused_signature") == 1
    assert value(samples, name, app="mp", outcome="refused_stale") == 1
    assert value(samples, name, app="mp", outcome="too_large") == 1
    assert value(samples, name, app="oa", outcome="refused_plaintext") == 1
    assert value(samples, name, app="oa", outcome="echo") == 1


class _FlakyRedis:
    """The counters' Redis: down until told otherwise, then the real one."""

    def __init__(self, real):
        self.real, self.down = real, True

    def pipeline(self, **kw):
        if self.down:
            raise ConnectionError("redis went away")
        return self.real.pipeline(**kw)

    def hgetall(self, key):
        if self.down:
            raise ConnectionError("redis went away")
        return self.real.hgetall(key)


def test_counts_survive_a_redis_outage_and_never_fail_the_callback(app, client, monkeypatch):
    from types import SimpleNamespace

    from app.extensions import redis_store

    with app.app_context():
        flaky = _FlakyRedis(redis_store.client)
    monkeypatch.setattr(counters, "redis_store",
                        SimpleNamespace(client=flaky, key=redis_store.key))
    mp = Sender(app, client, "mp")
    res = mp.send(subscribe_popup("o-metrics-2", {"tpl-x": "accept"}))
    assert res.status_code == 200 and res.data == b"success"
    samples = scrape(client)  # the page still answers, without the Redis families
    assert not [k for k in samples if k[0] == "aiic_wechat_callbacks_total"]
    assert value(samples, "aiic_workers_alive") == 0  # the rest of the page is there
    flaky.down = False  # Redis is back: the kept count arrives
    samples = scrape(client)
    assert value(samples, "aiic_wechat_callbacks_total", app="mp", outcome="accepted") == 1


def test_a_process_adds_its_counts_to_redis_within_a_second_unasked(app):
    from app.extensions import redis_store

    with app.app_context():
        counters.callback("oa", "accepted")
        counters.callback("oa", "accepted")
        key = counters._key(counters.CALLBACKS)
        deadline = time.monotonic() + counters.FLUSH_SECONDS + 3
        while time.monotonic() < deadline and not redis_store.client.hget(key, "oa|accepted"):
            time.sleep(0.1)
        assert int(redis_store.client.hget(key, "oa|accepted")) == 2  # no scrape needed


def _job(name: str, run) -> Job:
    return Job(name=name, every_seconds=60, description="metrics test", run=run)


def test_job_runs_are_counted_by_outcome_with_each_jobs_last_run(app, client):
    def boom(now):
        raise RuntimeError("broken job")

    with app.app_context():
        assert run_turn(_job("obs_ok", lambda now: 3), "w-metrics").result == 3
        assert run_turn(_job("obs_ok", lambda now: 1), "w-metrics", force=True).result == 1
        with pytest.raises(RuntimeError):
            run_turn(_job("obs_fail", boom), "w-metrics")
    samples = scrape(client)
    assert value(samples, "aiic_job_runs_total", job="obs_ok", outcome="ok") == 2
    assert value(samples, "aiic_job_runs_total", job="obs_fail", outcome="error") == 1
    assert value(samples, "aiic_job_last_run_ok", job="obs_ok") == 1
    assert value(samples, "aiic_job_last_run_ok", job="obs_fail") == 0
    finished = value(samples, "aiic_job_last_run_finished_timestamp_seconds", job="obs_ok")
    started = value(samples, "aiic_job_last_run_started_timestamp_seconds", job="obs_ok")
    assert started <= finished and abs(finished - time.time()) < 120


def test_the_new_families_are_behind_the_metrics_token(app, client):
    app.config["METRICS_TOKEN"] = "metrics-token-for-tests-42"
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers={
        "Authorization": "Bearer metrics-token-for-tests-42"}).get_data(as_text=True)
    for family in ("aiic_cancellations_total", "aiic_wechat_errcodes",
                   "aiic_wechat_callbacks_total", "aiic_job_runs_total",
                   "aiic_job_last_run_ok"):
        assert f"# TYPE {family}" in text
