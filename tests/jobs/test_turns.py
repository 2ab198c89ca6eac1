"""Each job's period runs once across workers, under a fencing token; jobs read one
injectable clock; operators list jobs and run one at any clock."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.timeutil import SHANGHAI
from app.extensions import db, redis_store
from app.jobs import schedule, turns
from app.jobs.schedule import JOBS, Job
from app.models import JobRun

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)


def _job(run, *, every=60, daily_at=None, name="test_job"):
    return Job(name, every, "测试任务", run, daily_at=daily_at)


def _run_row(app, name="test_job") -> JobRun:
    with app.app_context():
        row = db.session.scalar(select(JobRun).where(JobRun.name == name))
        db.session.expunge(row)
        return row


def test_an_interval_job_runs_once_per_period_whatever_the_number_of_workers(app):
    calls = []
    job = _job(lambda now: calls.append(now) or 3)
    with app.app_context():
        first = turns.run_turn(job, "worker-a", now=T0)
        assert first.result == 3
        # the same period: the other worker, and the same one again, do nothing
        assert turns.run_turn(job, "worker-b", now=T0 + timedelta(seconds=30)) is None
        assert turns.run_turn(job, "worker-a", now=T0 + timedelta(seconds=59)) is None
        # the next period: whoever comes first
        assert turns.run_turn(job, "worker-b", now=T0 + timedelta(seconds=60)).result == 3
    assert calls == [T0, T0 + timedelta(seconds=60)]
    row = _run_row(app)
    assert (row.worker_id, row.runs, row.result, row.clock_at) == \
        ("worker-b", 2, 3, T0 + timedelta(seconds=60))


@pytest.mark.parametrize(("local_time", "turn"), [
    ((8, 0, 0), "2026-12-01"),        # exactly at the time: today's turn
    ((7, 59, 59), "2026-11-30"),      # a second before: still yesterday's
    ((23, 59, 59), "2026-12-01"),
])
def test_a_daily_job_turns_at_its_time_in_beijing(local_time, turn):
    job = _job(lambda now: 0, every=300, daily_at="08:00")
    now = datetime(2026, 12, 1, *local_time, tzinfo=SHANGHAI).astimezone(UTC)
    assert turns.turn_of(job, now) == turn


def test_a_daily_job_missed_at_its_time_runs_once_when_a_worker_comes_back(app):
    calls = []
    job = _job(lambda now: calls.append(now) or 1, every=300, daily_at="08:00")
    with app.app_context():
        assert turns.run_turn(job, "w", now=datetime(2026, 12, 1, 7, 0, tzinfo=SHANGHAI))
        # the worker was down at 08:00; at 10:15 the day's turn is still due, once
        assert turns.run_turn(job, "w", now=datetime(2026, 12, 1, 10, 15, tzinfo=SHANGHAI))
        assert turns.run_turn(job, "w", now=datetime(2026, 12, 1, 10, 20, tzinfo=SHANGHAI)) \
            is None
    assert len(calls) == 2


def test_a_run_whose_lock_expired_is_superseded_by_the_later_token(app):
    """Worker A's run outlives its lock; worker B takes the job with a later token and
    runs it; A's finish is refused, and a start with an old token too."""
    seen = []

    def run(now):
        seen.append(now)
        if len(seen) == 1:   # A, mid-run: its lock expires, B takes over
            redis_store.client.delete(redis_store.key("job-lock", "test_job"))
            later = turns.run_turn(job, "worker-b", now=now, force=True)
            assert later.result == 5 and not later.superseded
            return 7
        return 5

    job = _job(run)
    with app.app_context():
        slow = turns.run_turn(job, "worker-a", now=T0)
        assert slow.superseded and slow.token < _run_row(app).fence
        row = _run_row(app)
        assert (row.worker_id, row.result, row.runs) == ("worker-b", 5, 1)
        # a start under a token lower than the recorded one is refused
        assert turns._begin("test_job", slow.token, "x", "worker-a", T0) is False
        assert turns.still_current("test_job", row.fence)


def test_a_job_still_running_keeps_the_next_turn_waiting(app):
    job = _job(lambda now: 1)
    with app.app_context():
        lock = redis_store.client.lock(redis_store.key("job-lock", "test_job"), timeout=60)
        assert lock.acquire(blocking=False)
        try:
            assert turns.run_turn(job, "w", now=T0) is None
            with pytest.raises(turns.JobBusy):
                turns.run_turn(job, "w", now=T0, force=True)
        finally:
            lock.release()
        # the turn was given back: a later tick of the same period runs it
        assert turns.run_turn(job, "w", now=T0 + timedelta(seconds=5)).result == 1


def test_a_failed_run_is_recorded_and_its_turn_retried(app):
    attempts = []

    def run(now):
        attempts.append(now)
        if len(attempts) == 1:
            raise RuntimeError("database went away")
        return 2

    job = _job(run)
    with app.app_context():
        with pytest.raises(RuntimeError):
            turns.run_turn(job, "w", now=T0)
        assert _run_row(app).error == "RuntimeError: database went away"
        assert turns.run_turn(job, "w", now=T0 + timedelta(seconds=1)).result == 2
        assert _run_row(app).error is None


def test_the_clock_is_injectable_and_shared_through_redis_when_configured(app):
    with clock.frozen(T0):
        assert clock.now() == T0
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5
    with pytest.raises(ValueError):
        clock.set_now(datetime(2026, 12, 1, 9, 0))  # naive: refused
    app.config["CLOCK_SOURCE"] = "redis"
    with app.app_context():
        clock.publish(T0 + timedelta(hours=3))
        assert clock.now() == T0 + timedelta(hours=3)


def test_every_job_has_a_unique_name_and_a_chinese_description():
    names = [j.name for j in JOBS]
    assert len(names) == len(set(names))
    assert {"auto_cancel_unconfirmed", "confirm_reminders", "escalate_pending_requests",
            "settle_unanswered_requests"} <= set(names)
    for job in JOBS:
        assert job.every_seconds > 0 and any("\u4e00" <= ch <= "\u9fff" for ch in job.description)
        assert schedule.get_job(job.name) is job


def test_jobs_run_reads_the_clock_it_was_given(app, runner, monkeypatch):
    seen = []
    job = _job(lambda now: seen.append((now, clock.now())) or 4, name="clock_probe")
    monkeypatch.setattr(schedule, "JOBS", (*JOBS, job))
    result = runner.invoke(args=["jobs", "run", "clock_probe", "--now",
                                 "2026-12-31T23:59:59+08:00"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "clock_probe: 4"
    at = datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    assert seen == [(at, at)]
    listed = runner.invoke(args=["jobs", "list"])
    assert "clock_probe" in listed.output and "2026-12-31T23:59:59+08:00 -> 4" in listed.output
    assert "daily from" in listed.output or all(not j.daily_at for j in JOBS)


def test_a_long_job_sees_when_a_later_run_took_over(app):
    """Between its chunks a job asks app.core.fencing.superseded(): false while its token
    is the job's latest, true once a later run took a newer one (outside a run: false)."""
    from sqlalchemy import update

    from app.core import fencing

    seen = []

    def run(now):
        seen.append(fencing.superseded())
        db.session.execute(update(JobRun).where(JobRun.name == "test_job")
                           .values(fence=JobRun.fence + 1))   # a later run started
        db.session.commit()
        seen.append(fencing.superseded())
        return 1

    with app.app_context():
        outcome = turns.run_turn(_job(run), "w", now=T0)
    assert seen == [False, True]
    assert outcome.superseded            # and its finish was refused
    assert fencing.superseded() is False


def test_production_refuses_a_simulated_clock(monkeypatch):
    from config import REQUIRED_PRODUCTION_KEYS, ConfigError, ProductionConfig

    for k in REQUIRED_PRODUCTION_KEYS:
        monkeypatch.setenv(k, "x")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "ZGV2LW9ubHktZGF0YS1lbmNyeXB0aW9uLWtleS0wMDA=")
    monkeypatch.setenv("CLOCK_SOURCE", "redis")
    with pytest.raises(ConfigError, match="CLOCK_SOURCE"):
        ProductionConfig().validate()


def test_a_stopping_worker_ends_a_long_job_at_its_next_chunk(app):
    from app.core import fencing

    stopping = []
    seen = []

    def run(now):
        seen.append(fencing.should_stop())
        stopping.append(True)          # SIGTERM arrives
        seen.append((fencing.should_stop(), fencing.superseded()))
        return 1

    with app.app_context():
        outcome = turns.run_turn(_job(run), "w", now=T0, stopping=lambda: bool(stopping))
    assert seen == [False, (True, False)]
    assert outcome.result == 1 and not outcome.superseded
    assert fencing.should_stop() is False


def test_a_turn_left_by_a_dead_or_stopped_worker_is_run_by_the_next_tick(app):
    calls = []
    job = _job(lambda now: calls.append(now) or 1)
    with app.app_context():
        # a worker took the turn and died before finishing (its lock expired since)
        token = int(redis_store.client.incr(redis_store.key("job-fence", "test_job")))
        assert turns._begin("test_job", token, turns.turn_of(job, T0), "w-dead", T0)
        assert turns.run_turn(job, "w-alive", now=T0 + timedelta(seconds=10)).result == 1
        # a worker stopping mid-run: recorded, but the turn is not done
        later = T0 + timedelta(minutes=1)
        stopped = turns.run_turn(job, "w-stopping", now=later, stopping=lambda: True)
        assert stopped.result == 1 and _run_row(app).error == turns.STOPPED
        assert turns.run_turn(job, "w-alive", now=later + timedelta(seconds=5)).result == 1
        assert turns.run_turn(job, "w-alive", now=later + timedelta(seconds=6)) is None
    assert len(calls) == 3


def test_a_redis_that_lost_its_counters_still_runs_the_jobs(app):
    """The fencing counter restarts at 1 when Redis loses its data (or in another process's
    embedded store): the next token still goes above the last one job_runs recorded."""
    calls = []
    job = _job(lambda now: calls.append(now) or 1)
    with app.app_context():
        for minute in range(5):
            turns.run_turn(job, "worker-a", now=T0 + timedelta(minutes=minute))
        assert _run_row(app).fence == 5
        redis_store.clear_namespace()          # Redis restarted without its data
        result = turns.run_turn(job, "worker-a", now=T0 + timedelta(minutes=5))
    assert result is not None and not result.superseded and result.result == 1
    assert result.token == 6 and _run_row(app).fence == 6
    assert len(calls) == 6

