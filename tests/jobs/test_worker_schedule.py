"""Real `flask worker` processes running the schedule on PostgreSQL + Redis.

- Two workers walk one simulated day (the shared test clock, CLOCK_SOURCE=redis, stepped
  every 15 minutes, each step waited for until every tracked job ran its turn): each
  auto-cancel, reminder, escalation, settlement and digest happens exactly once, and each
  job ran exactly once per turn (job_runs.runs).
- A worker stopped with SIGTERM while sends are in flight finishes them, leaves no row
  claimed and no job lock held, and exits 0.
"""
from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from app.core import clock
from app.core.timeutil import SHANGHAI
from app.extensions import db, redis_store
from app.jobs import schedule, turns
from app.models import (
    AuditEntry,
    Cancellation,
    CancellationState,
    ConfirmReminder,
    JobRun,
    OutboxMessage,
    OutboxStatus,
    RequestEscalation,
)
from app.services.cancellation import commands
from tests.jobs.automation_cases import candidate_reason, interview, position, team
from tests.jobs.test_worker_processes import (
    ROOT,
    _die_with_parent,
    counts,
    queue_rows,
    stop_worker,
    wait_until,
)

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]

DAY = datetime(2026, 12, 9, 0, 0, tzinfo=SHANGHAI)      # the simulated day (Wednesday)
WALK_FROM = DAY + timedelta(hours=6)
WALK_TO = DAY + timedelta(days=1, hours=9)               # past the next day's 08:00 digest
STEP = timedelta(minutes=15)
TRACKED = ("auto_cancel_unconfirmed", "confirm_reminders", "escalate_pending_requests",
           "settle_unanswered_requests", "daily_digest")


@pytest.fixture
def services_only(backend):
    if backend.name != "services":
        pytest.skip("several worker processes share one database only on PostgreSQL "
                    "(FOR UPDATE SKIP LOCKED); SQLite is the single-process embedded default")


def start_worker(app, backend, log_path, **env_extra):
    """`flask worker` on this backend; its log goes to a file (a pipe nobody reads would
    fill and stall it)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, APP_ENV="development", DATABASE_URL=backend.database_url,
               REDIS_URL=backend.redis_url, REDIS_KEY_PREFIX=backend.redis_prefix,
               WECHAT_API_BASE=app.config["WECHAT_API_BASE"],
               PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"], EMBEDDED_WORKER="0",
               WORKER_SWEEP_SECONDS="0.5", **env_extra)
    log = open(log_path, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                                cwd=ROOT, env=env, stdout=log, stderr=log,
                                start_new_session=True, preexec_fn=_die_with_parent)
    finally:
        log.close()


def _day_data(app):
    people = team(app)
    plain = position(app, people, title="测试工程师")
    review = position(app, people, title="产品经理", cancel_requires_review=True)
    at = lambda h, m=0: DAY + timedelta(hours=h, minutes=m)  # noqa: E731
    # unconfirmed, deadlines during the day: reminded 12 h before, then auto-cancelled
    overdue = [interview(app, people, plain, DAY + timedelta(days=3), f"AI-A{i}",
                         confirm_by=deadline)
               for i, deadline in enumerate([at(7, 10), at(9, 40), at(13, 5), at(21, 50)])]
    # deadlines after the walk: reminded during it, not cancelled
    reminded = [interview(app, people, plain, DAY + timedelta(days=3), f"AI-R{i}",
                          confirm_by=deadline)
                for i, deadline in enumerate([at(24 + 12), at(24 + 15)])]
    # candidates' requests nobody decides: escalated 2 h before, settled at the start
    reason = candidate_reason(app)
    requests_ = []
    for i, start in enumerate([at(10), at(14, 30), at(20)]):
        iv = interview(app, people, review, start, f"AI-Q{i}")
        with app.app_context():
            commands.cancel_by_candidate(candidate_id=iv.candidate_id,
                                         interview_public_id=iv.public_id,
                                         reason_code=reason, now=DAY - timedelta(days=1))
            db.session.remove()
        requests_.append(iv)
    return people, overdue, reminded, requests_


def _runs(app) -> dict[str, JobRun]:
    with app.app_context():
        found = {r.name: r for r in db.session.scalars(select(JobRun))}
        for r in found.values():
            db.session.expunge(r)
        db.session.remove()
        return found


def _step_done(app, now) -> bool:
    runs = _runs(app)
    for name in TRACKED:
        run = runs.get(name)
        want = turns.turn_of(schedule.get_job(name), now)
        if run is None or run.turn != want or run.finished_at is None:
            return False
    return True


def test_two_workers_walk_a_day_and_do_everything_exactly_once(app, backend, live_url,
                                                               services_only, tmp_path):
    people, overdue, reminded, pending = _day_data(app)
    with app.app_context():
        clock.publish(WALK_FROM)   # before the workers start: they never see the real time
    env = dict(CLOCK_SOURCE="redis", SCHEDULER_TICK_SECONDS="0.2")
    workers = [start_worker(app, backend, tmp_path / f"worker{i}.log", **env)
               for i in range(2)]
    steps = 0
    try:
        now = WALK_FROM
        while now <= WALK_TO:
            with app.app_context():
                clock.publish(now)
            wait_until(lambda now=now: _step_done(app, now), 30, f"every job's turn at {now}")
            steps += 1
            now += STEP
    finally:
        for w in workers:
            stop_worker(w)
    assert [w.returncode for w in workers] == [0, 0], \
        (tmp_path / "worker0.log").read_text()[-3000:]
    walked_days = {turns.turn_of(schedule.get_job("daily_digest"), WALK_FROM + STEP * k)
                   for k in range(steps)}

    # the turns that did something, as each worker logged them: none twice, both took some
    import re

    done = Counter()
    by_worker = Counter()
    for i in range(2):
        for job, turn, worker in re.findall(r"job (\w+) turn (\S+): [1-9]\d* \(worker (\S+),",
                                            (tmp_path / f"worker{i}.log").read_text()):
            done[(job, turn)] += 1
            by_worker[worker] += 1
    assert done and max(done.values()) == 1, done.most_common(3)
    assert len(by_worker) == 2, by_worker       # both workers shared the day

    runs = _runs(app)
    for name in TRACKED:   # each turn once, across both workers
        expected = len(walked_days) if name == "daily_digest" else steps
        assert runs[name].runs == expected, (name, runs[name].runs, expected)
        assert runs[name].error is None

    with app.app_context():
        # every (event, recipient, kind) once: nothing queued twice
        keys = Counter(db.session.scalars(select(OutboxMessage.dedupe_key)))
        assert max(keys.values()) == 1
        kinds = Counter(db.session.scalars(select(OutboxMessage.kind)))
        cancelled = Counter(db.session.scalars(
            select(Cancellation.interview_id).where(
                Cancellation.actor_rule == "auto_cancel_unconfirmed")))
        assert cancelled == Counter({iv.id: 1 for iv in overdue})
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "interview.cancelled")) == len(overdue)
        # reminders: the overdue ones before their deadline, the later ones too
        assert db.session.scalar(select(func.count()).select_from(ConfirmReminder)) == \
            len(overdue) + len(reminded)
        assert kinds["candidate_confirm_reminder"] == len(overdue) + len(reminded)
        # escalations: each request once, to both managers of 技术部
        assert db.session.scalar(select(func.count()).select_from(RequestEscalation)) == \
            len(pending)
        escalated = Counter(db.session.execute(
            select(OutboxMessage.interview_id, OutboxMessage.recipient_id)
            .where(OutboxMessage.kind == "staff_request_escalated")).all())
        assert escalated == Counter({(iv.id, m): 1 for iv in pending
                                     for m in (people.manager, people.manager2)})
        # settled at the start by the system, each once
        settled = db.session.execute(select(Cancellation.interview_id, Cancellation.state)
                                     .where(Cancellation.interview_id.in_(
                                         [iv.id for iv in pending]))).all()
        assert sorted(settled) == sorted((iv.id, CancellationState.EFFECTIVE)
                                         for iv in pending)
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "interview.cancel_approved",
            AuditEntry.actor_type == "system")) == len(pending)
        assert kinds["candidate_cancel_approved"] == len(pending)
        # the digest: one per owner (the recruiter) for each day whose 08:00 was walked
        digests = Counter(db.session.execute(
            select(OutboxMessage.recipient_id, OutboxMessage.event)
            .where(OutboxMessage.kind == "staff_daily_digest")).all())
        assert digests == Counter({(people.recruiter, "digest:2026-12-08"): 1,
                                   (people.recruiter, "digest:2026-12-09"): 1})


def test_sigterm_finishes_in_flight_sends_and_leaves_nothing_claimed(app, backend, demo,
                                                                    live_url, services_only,
                                                                    tmp_path):
    queue_rows(app, demo, live_url, 24, subscribe_share=0)
    requests.post(f"{live_url}/_sandbox/wechat/faults",
                  json={"api": "template_send", "latency_ms": 1500}, timeout=5)
    # a long lease: a row left claimed would stay claimed for the whole test
    log_path = tmp_path / "worker.log"
    worker = start_worker(app, backend, log_path, WORKER_CONCURRENCY="4",
                          WORKER_LEASE_SECONDS="3600")
    try:
        wait_until(lambda: counts(app).get(OutboxStatus.SENDING, 0) >= 4, 30,
                   "sends in flight")
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)   # the worker process itself, as systemd does
        worker.wait(30)
    finally:
        stop_worker(worker, signal.SIGKILL)
    requests.delete(f"{live_url}/_sandbox/wechat/faults", timeout=5)
    assert worker.returncode == 0, log_path.read_text()[-3000:]
    after = counts(app)
    assert after.get(OutboxStatus.SENDING, 0) == 0
    assert after.get(OutboxStatus.SENT, 0) >= 4            # what was in flight finished
    with app.app_context():   # the 24 rows: sent, or back in the queue untouched
        load = Counter(db.session.scalars(select(OutboxMessage.status).where(
            OutboxMessage.event.like("load:%"))))
        assert set(load) <= {OutboxStatus.SENT, OutboxStatus.QUEUED} and load.total() == 24
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.claimed_by.is_not(None))) == 0
        assert not list(redis_store.client.scan_iter(match=redis_store.key("job-lock", "*")))
