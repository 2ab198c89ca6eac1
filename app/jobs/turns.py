"""Taking a job's turn: once per period across any number of workers.

A job's periods ("turns") are read off the clock: `every_seconds` slices of the epoch, or,
for a job with `daily_at`, one per day from that time (Asia/Shanghai). A worker whose
trigger fires runs the turn unless it is done (a Redis mark, then job_runs: the turn
recorded as finished without error):
- it takes a fencing token (INCR, only ever grows) and the job's run lock (expiring,
  holding the token), so two runs of one job never overlap while the lock lives; a
  worker finding the lock taken leaves the turn to its holder;
- it records the run in job_runs guarded by the token (`fence < token` to start,
  `fence = token` to finish): a run whose lock expired and was taken over by a later
  token is superseded and records nothing;
- it runs the job with the clock's `now`; a long job checks between chunks
  (app.core.fencing.should_stop) and stops once a later token has taken over or the
  worker is stopping;
- only a run that finished (no error, not stopped) marks the turn done: a worker that
  died, failed or stopped mid-turn leaves it to the next tick of any worker.
Every job is idempotent anyway (each writes what it does under a unique key), so a turn
run twice does nothing the second time.

Traps: the done mark outlives the period (two periods) so a slow worker cannot run a
turn already done; Redis errors propagate to the caller (the worker logs an outage once
and keeps going).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from redis.exceptions import LockError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app.core import clock, counters, fencing
from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db, redis_store
from app.models import JobRun

log = logging.getLogger(__name__)
RUNS = JobRun.__table__


class JobBusy(RuntimeError):
    """Another run of the job holds its lock."""


@dataclass(frozen=True)
class TurnResult:
    job: str
    turn: str
    token: int
    result: int | None          # what the job returned; None when superseded or failed
    superseded: bool = False


def turn_of(job, now: datetime) -> str:
    """The period `now` falls in: a daily job's date (its time passed), else a slice."""
    if job.daily_at:
        hour, minute = (int(p) for p in job.daily_at.split(":"))
        local = now.astimezone(SHANGHAI)
        day = local.date()
        if local.time() < time(hour, minute):
            day -= timedelta(days=1)
        return day.isoformat()
    return str(int(now.timestamp()) // job.every_seconds)


def lock_seconds(job) -> int:
    return job.lock_seconds or max(job.every_seconds * 2, 300)


def _begin(name: str, token: int, turn: str, worker_id: str, now: datetime) -> bool:
    """Record the start under the token; False when a later token already started."""
    values = dict(fence=token, turn=turn, worker_id=worker_id, clock_at=now,
                  started_at=utcnow(), finished_at=None, error=None, result=None)
    for _ in range(2):
        with db.engine.begin() as connection:
            moved = connection.execute(update(RUNS).where(
                RUNS.c.name == name, RUNS.c.fence < token).values(**values)).rowcount
            if moved:
                return True
            if connection.execute(select(RUNS.c.fence).where(RUNS.c.name == name)).first():
                return False   # superseded by a later token
            try:
                connection.execute(insert(RUNS).values(name=name, runs=0, **values))
                return True
            except IntegrityError:
                continue  # another worker inserted the row first: compare tokens again
    return False


def _finish(name: str, token: int, result: int | None, error: str | None) -> bool:
    with db.engine.begin() as connection:
        recorded = bool(connection.execute(update(RUNS).where(
            RUNS.c.name == name, RUNS.c.fence == token).values(
            finished_at=utcnow(), result=result, error=error[:500] if error else None,
            runs=RUNS.c.runs + 1)).rowcount)
    counters.job_run(name, "superseded" if not recorded else "stopped" if error == STOPPED
                     else "error" if error else "ok")  # /metrics: aiic_job_runs_total
    return recorded


def still_current(name: str, token: int) -> bool:
    """Whether `token` is still the job's latest run (for long jobs between chunks)."""
    fence = db.session.scalar(select(JobRun.fence).where(JobRun.name == name))
    db.session.rollback()
    return fence == token


def _still_current_apart(name: str, token: int) -> bool:
    """still_current on a connection of its own (the job's session may be mid-work)."""
    with db.engine.connect() as connection:
        return connection.execute(select(RUNS.c.fence).where(RUNS.c.name == name)
                                  ).scalar() == token


def _turn_done(name: str, turn: str) -> bool:
    """Whether this turn's run finished (without error) according to job_runs."""
    with db.engine.connect() as connection:
        row = connection.execute(select(RUNS.c.turn, RUNS.c.finished_at, RUNS.c.error)
                                 .where(RUNS.c.name == name)).first()
    return row is not None and row.turn == turn and row.finished_at is not None \
        and row.error is None


STOPPED = "stopped: the worker was stopping (the turn runs again)"


# The next fencing token, never below `floor` (ARGV[1]): the counter only grows.
_NEXT_TOKEN = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if current < floor then redis.call('SET', KEYS[1], floor) end
return redis.call('INCR', KEYS[1])
"""


def _take_token(name: str) -> int:
    """A fencing token above every one job_runs has recorded for the job. The Redis counter
    alone is not enough: a Redis that lost its data (or the in-process store of another
    process, under the embedded default) starts it at 1 again, and every run would then be
    refused as superseded by the last recorded token, for as many ticks as it had."""
    with db.engine.connect() as connection:
        fence = connection.execute(select(RUNS.c.fence).where(RUNS.c.name == name)).scalar()
    return int(redis_store.script(_NEXT_TOKEN)(keys=[redis_store.key("job-fence", name)],
                                               args=[fence or 0]))


def run_turn(job, worker_id: str, *, now: datetime | None = None,
             force: bool = False, stopping=None) -> TurnResult | None:
    """Run `job` for the turn `now` falls in, if this worker takes it (None: another
    worker has or had it). `force` (operators, `flask jobs run`): run whatever the turn,
    still under the lock and a fresh token. `stopping()` true (the worker is stopping):
    a long job ends at its next chunk, and its turn is left for another worker."""
    now = now or clock.now()
    turn = turn_of(job, now)
    client = redis_store.client
    done_key = redis_store.key("job-turn", job.name, turn)
    period = 86400 if job.daily_at else job.every_seconds
    if not force and client.exists(done_key):
        return None      # done already (the cheap check; job_runs is the real one)
    token = _take_token(job.name)
    lock = client.lock(redis_store.key("job-lock", job.name), timeout=lock_seconds(job),
                       blocking=False)
    if not lock.acquire(blocking=False, token=str(token)):
        if force:
            raise JobBusy(job.name)
        return None      # another worker is running it: a later tick looks again

    def mark_done():
        client.set(done_key, worker_id, ex=max(period * 2, 10))

    try:
        if not force and _turn_done(job.name, turn):
            mark_done()  # another worker finished it just before we took the lock
            return None
        if not _begin(job.name, token, turn, worker_id, now):
            log.warning("job %s: token %s superseded before it started", job.name, token)
            return TurnResult(job.name, turn, token, None, superseded=True)
        try:
            with fencing.running(lambda: _still_current_apart(job.name, token), stopping):
                result = int(job.run(now) or 0)
        except Exception as exc:
            db.session.rollback()
            _finish(job.name, token, None, f"{type(exc).__name__}: {exc}")
            raise        # not done: the next tick (any worker) runs the turn again
        finally:
            db.session.remove()
        stopped = stopping is not None and stopping()
        if not _finish(job.name, token, result, STOPPED if stopped else None):
            log.warning("job %s: run %s superseded by a later one; its record is dropped",
                        job.name, token)
            return TurnResult(job.name, turn, token, result, superseded=True)
        if not stopped:
            mark_done()
        log.log(logging.INFO if result else logging.DEBUG,
                "job %s turn %s: %s (worker %s, token %s)", job.name, turn, result,
                worker_id, token)
        return TurnResult(job.name, turn, token, result)
    finally:
        try:
            lock.release()
        except LockError:   # expired, maybe taken by a later token: not ours to free
            log.warning("job %s: lock expired while running (token %s)", job.name, token)
