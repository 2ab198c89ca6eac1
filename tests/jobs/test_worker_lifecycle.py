"""The worker in-process: it beats for /readyz, stops cleanly, gives back what it claimed,
stops a batch between chunks for another worker to resume, and rides out a Redis outage
(logged once, then back to work)."""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from app.core.timeutil import utcnow
from app.extensions import db
from app.jobs import heartbeat
from app.jobs.release import release_claims
from app.jobs.worker import EmbeddedWorker, Worker
from app.models import (
    BatchStatus,
    CancelBatch,
    Candidate,
    HrUser,
    Interview,
    InterviewStatus,
    JobRun,
    OutboxMessage,
    OutboxStatus,
    ReasonActor,
    Role,
)
from app.services.cancellation import batch
from app.services.users.actor import Actor
from tests import factories


def _wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_release_gives_back_only_this_workers_unfinished_claims(app):
    mine = factories.outbox_message(app, status=OutboxStatus.SENDING, claimed_by="w-mine",
                                    attempts=1, lease_until=utcnow() + timedelta(hours=1))
    theirs = factories.outbox_message(app, status=OutboxStatus.SENDING, claimed_by="w-other",
                                      attempts=1, lease_until=utcnow() + timedelta(hours=1))
    sent = factories.outbox_message(app, status=OutboxStatus.SENT, claimed_by="w-mine",
                                    attempts=1)
    with app.app_context():
        assert release_claims("w-mine")["outbox_messages"] == 1
        rows = {r.id: r for r in db.session.scalars(select(OutboxMessage))}
        assert (rows[mine].status, rows[mine].claimed_by, rows[mine].attempts,
                rows[mine].lease_until) == (OutboxStatus.QUEUED, None, 0, None)
        assert (rows[theirs].status, rows[theirs].claimed_by) == \
            (OutboxStatus.SENDING, "w-other")
        assert rows[sent].status == OutboxStatus.SENT


@pytest.mark.parametrize("jobs", [True, False], ids=["with-jobs", "dispatcher-only"])
def test_a_running_worker_beats_and_stops_cleanly(app, jobs):
    app.config.update(SCHEDULER_TICK_SECONDS=0.2, WORKER_SWEEP_SECONDS=0.2,
                      SCHEDULER_ENABLED=jobs)
    embedded = EmbeddedWorker(app).start()
    worker_id = embedded.worker.worker_id
    try:
        with app.app_context():
            _wait(lambda: worker_id in heartbeat.alive_workers(), 15, "the first heartbeat")
            if jobs:
                _wait(lambda: db.session.scalar(select(func.count()).select_from(JobRun)) > 0
                      or db.session.rollback(), 15, "a job turn")
            else:
                time.sleep(0.5)
                assert db.session.scalar(select(func.count()).select_from(JobRun)) == 0
    finally:
        embedded.stop(timeout=30)
    assert not embedded.thread.is_alive()
    assert embedded.worker.released == {"outbox_messages": 0, "webhook_deliveries": 0}


def _many_interviews(app, n: int) -> int:
    """n interviews of one position tomorrow, written in bulk; returns the position id."""
    position_id = factories.position(app, title="批量岗位")
    with app.app_context():
        start = utcnow() + timedelta(days=1)
        db.session.execute(insert(Candidate), [{"name": f"候选人{i}"} for i in range(n)])
        ids = list(db.session.scalars(select(Candidate.id).order_by(Candidate.id)))[-n:]
        db.session.execute(insert(Interview), [
            dict(public_id=f"iv_bulk{i:06d}", number=f"AI-B-{i:06d}", candidate_id=cid,
                 position_id=position_id, status=InterviewStatus.SCHEDULED,
                 scheduled_at=start, duration_minutes=30, version=1,
                 created_at=utcnow(), updated_at=utcnow())
            for i, cid in enumerate(ids)])
        db.session.commit()
    return position_id


def test_a_stopping_worker_leaves_a_batch_between_chunks_for_another(app):
    position_id = _many_interviews(app, 1100)
    factories.cancel_reason(app, "position_paused", label="岗位暂停招聘",
                            category="position_change", actor=ReasonActor.COMPANY)
    admin_id = factories.hr_user(app, "guanli", role=Role.ADMIN, departments=())
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, admin_id))
        preview = batch.preview(actor, batch.Criteria(position_id=position_id),
                                reason_code="position_paused")
        queued = batch.confirm(actor, preview.token)
        batch_id = queued.id
        assert queued.status == BatchStatus.QUEUED   # large: the worker runs it
        db.session.remove()
    # the first worker is told to stop while running its first chunk
    def stop_after_the_first_chunk() -> bool:   # SIGTERM arrives during chunk one
        with db.engine.connect() as conn:
            return conn.execute(select(CancelBatch.processed).where(
                CancelBatch.id == batch_id)).scalar() > 0

    assert Worker(app)._batches_once(stop=stop_after_the_first_chunk) == 1
    with app.app_context():
        left = db.session.get(CancelBatch, batch_id)
        assert (left.status, left.processed, left.cancelled) == (BatchStatus.RUNNING, 1000, 1000)
        db.session.remove()
    # another worker resumes it from the committed chunk (its lock was released)
    assert Worker(app)._batches_once() == 1
    with app.app_context():
        done = db.session.get(CancelBatch, batch_id)
        assert (done.status, done.processed, done.cancelled) == (BatchStatus.DONE, 1100, 1100)
        assert db.session.scalar(select(func.count()).select_from(Interview).where(
            Interview.status == InterviewStatus.CANCELLED)) == 1100


# --- a Redis outage ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own on a spare port (stopped and started at will)."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self._up, 10, "redis-server to listen")

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_redis_outage_is_logged_once_and_the_worker_keeps_going(own_redis, make_app,
                                                                   caplog):
    # (own_redis first: it must outlive make_app's clean-up, which empties its keys)
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0",
                   SCHEDULER_TICK_SECONDS=0.2, WORKER_SWEEP_SECONDS=0.2)
    caplog.set_level(logging.INFO, logger="app.jobs")
    embedded = EmbeddedWorker(app).start()

    def last_run():
        with app.app_context():
            found = db.session.scalar(select(func.max(JobRun.started_at)))
            db.session.remove()
            return found

    try:
        _wait(lambda: last_run() is not None, 15, "a job turn")
        own_redis.stop()
        time.sleep(3)
        assert embedded.thread.is_alive()
        outages = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(outages) == 1
        before = last_run()
        own_redis.start()
        _wait(lambda: any("Redis reachable again" in r.getMessage() for r in caplog.records),
              20, "the worker to notice Redis is back")
        _wait(lambda: last_run() > before, 15, "job turns again")
        assert len([r for r in caplog.records if "Redis unreachable" in r.getMessage()]) == 1
    finally:
        embedded.stop(timeout=30)
    assert not embedded.thread.is_alive()
