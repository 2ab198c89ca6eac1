"""Real `flask worker` processes on PostgreSQL against the sandbox over HTTP.

Two workers drain 2,000 queued messages and the sandbox records each exactly once; a worker
killed with SIGKILL mid-dispatch loses no message: the other one sends its rows after the
lease expires, and the Official Account's client_msg_id makes WeChat drop the repeat.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, insert, select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Interview, OutboxMessage, OutboxStatus, Subscription

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


@pytest.fixture
def services_only(backend):
    if backend.name != "services":
        pytest.skip("several worker processes share one database only on PostgreSQL "
                    "(FOR UPDATE SKIP LOCKED); SQLite is the single-process embedded default")


def start_worker(app, backend, **env_extra):
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=backend.database_url,
               REDIS_URL=backend.redis_url, REDIS_KEY_PREFIX=backend.redis_prefix,
               WECHAT_API_BASE=app.config["WECHAT_API_BASE"],
               PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"], EMBEDDED_WORKER="0",
               WORKER_SWEEP_SECONDS="0.5",
               # dispatcher only: the scheduled jobs would queue messages of their own
               # (a digest of the demo data) beside the ones these tests count
               SCHEDULER_ENABLED="0", **env_extra)
    # stderr into a file, not a pipe nobody reads: the worker logs a line per send, and a
    # full pipe (64 KB, about 400 sends) would block it mid-run
    log = tempfile.NamedTemporaryFile(prefix="aiic-worker-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True, preexec_fn=_die_with_parent)
    log.close()
    proc.stderr = open(log.name, "rb")  # noqa: SIM115 (read after the worker stopped)
    os.unlink(log.name)
    return proc


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM if the test run itself is killed (an interrupted run
    must not leave workers draining a test database in the background)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_worker(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def queue_rows(app, demo, live_url, n, *, subscribe_share=0.5):
    """n rows: half subscribe messages to candidates (with credits), half OA template
    messages to HR users who follow the Official Account."""
    with app.app_context():
        cands = demo["candidates"]
        tpl = app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
        iv = db.session.scalars(select(Interview)).first()
        ctx = {"interview_number": iv.number, "candidate_name": "张三", "position_title": "岗位",
               "department": "部门", "scheduled_at": "2026-12-01T10:00:00+08:00",
               "reason_label": "时间冲突", "note": "", "interview_public_id": iv.public_id}
        n_sub = int(n * subscribe_share)
        per_cand = {}
        rows = []
        for i in range(n):
            if i < n_sub:
                cand = cands[i % len(cands)]
                per_cand[cand["openid"]] = per_cand.get(cand["openid"], 0) + 1
                rows.append(dict(recipient_type="candidate", recipient_id=cand["id"],
                                 kind="candidate_cancel_confirmed"))
            else:
                hr = list(demo["hr_users"].values())[i % len(demo["hr_users"])]
                rows.append(dict(recipient_type="hr_user", recipient_id=hr["id"],
                                 kind="staff_candidate_cancelled"))
        for openid, count in per_cand.items():
            while count:
                step = min(count, 1000)
                requests.post(f"{live_url}/_sandbox/wechat/subscriptions",
                              json={"openid": openid, "template_id": tpl, "count": step},
                              timeout=10).raise_for_status()
                count -= step
            db.session.add(Subscription(openid=openid, template_id=tpl, last_result="accept",
                                        credits=per_cand[openid]))
        now = utcnow()
        db.session.execute(insert(OutboxMessage), [
            dict(dedupe_key=f"load:{i}", event=f"load:{i}", interview_id=iv.id, context=ctx,
                 status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now,
                 open_token=f"tok{i:06d}", open_count=0, **row)
            for i, row in enumerate(rows)])
        db.session.commit()


def counts(app):
    with app.app_context():
        result = dict(db.session.execute(select(OutboxMessage.status, func.count())
                                         .group_by(OutboxMessage.status)).all())
        db.session.remove()
        return result


def test_two_workers_drain_2000_messages_exactly_once(app, backend, demo, live_url,
                                                     services_only):
    queue_rows(app, demo, live_url, 2000)
    workers = [start_worker(app, backend) for _ in range(2)]
    try:
        wait_until(lambda: counts(app).get(OutboxStatus.SENT, 0) == 2000, 180,
                   "2000 messages sent")
    finally:
        for w in workers:
            stop_worker(w)
    messages = requests.get(f"{live_url}/_sandbox/wechat/messages", timeout=30).json()["items"]
    # one per row: subscribe messages by their open token, staff OA messages (which open
    # the mobile console, no token) by their client_msg_id
    tokens = [m.get("client_msg_id") or m["page"].split("t=", 1)[1] for m in messages]
    assert len(messages) == 2000 and len(set(tokens)) == 2000
    calls = requests.get(f"{live_url}/_sandbox/wechat/calls", timeout=5).json()["calls"]
    with app.app_context():  # every row sent once, on its first claim
        assert db.session.scalar(select(func.max(OutboxMessage.attempts))) == 1
    assert calls.get("subscribe_send", 0) + calls.get("template_send", 0) == 2000  # no repeats
    with app.app_context():
        per_worker = db.session.execute(select(OutboxMessage.claimed_by, func.count())
                                        .group_by(OutboxMessage.claimed_by)).all()
    assert len(per_worker) == 2 and min(c for _, c in per_worker) > 100  # both shared the work


def test_sigkilled_worker_loses_no_message(app, backend, demo, live_url, services_only):
    queue_rows(app, demo, live_url, 30, subscribe_share=0)  # OA template: client_msg_id
    requests.post(f"{live_url}/_sandbox/wechat/faults",
                  json={"api": "template_send", "latency_ms": 4000}, timeout=5)
    victim = start_worker(app, backend, WORKER_LEASE_SECONDS="3")
    try:
        wait_until(lambda: counts(app).get(OutboxStatus.SENDING, 0) == 30, 30,
                   "the first worker to claim every row")
        time.sleep(0.5)  # its sends are in flight
        stop_worker(victim, signal.SIGKILL)
    finally:
        stop_worker(victim, signal.SIGKILL)
    assert counts(app).get(OutboxStatus.SENDING) == 30  # claimed by a dead worker
    requests.delete(f"{live_url}/_sandbox/wechat/faults", timeout=5)
    rescuer = start_worker(app, backend, WORKER_LEASE_SECONDS="3")
    try:
        wait_until(lambda: counts(app).get(OutboxStatus.SENT, 0) == 30, 60,
                   "the second worker to send the dead worker's rows after the lease")
    finally:
        stop_worker(rescuer)
    messages = requests.get(f"{live_url}/_sandbox/wechat/messages", timeout=10).json()["items"]
    client_ids = [m["client_msg_id"] for m in messages]
    assert len(messages) == 30 and len(set(client_ids)) == 30  # WeChat dropped the repeats
    with app.app_context():
        assert db.session.scalar(select(func.count(func.distinct(OutboxMessage.claimed_by)))) == 1
        assert db.session.scalar(select(func.min(OutboxMessage.attempts))) == 2
