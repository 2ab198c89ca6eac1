"""The scheduled jobs, in one list. `flask worker` runs each on an APScheduler trigger;
each period ("turn") runs once across all workers (app.jobs.turns: a Redis turn mark, a
lock with expiry holding a fencing token, the run recorded in job_runs under that token)
and every job is idempotent anyway. Each reads time from the `now` it is given, taken
from the one injectable clock (app.core.clock; operators and tests run a job at any
clock with `flask jobs run NAME --now ISO-8601`).

A job: `Job(name, every_seconds, description, run)`, `run(now: datetime) -> int` (how
many things it did). Optional: `daily_at="08:00"` (Asia/Shanghai) makes the turn a day
starting at that time, checked every `every_seconds` (a worker down at 08:00 still runs
it when it comes back that day); `lock_seconds` bounds one run (default: two periods,
at least 5 minutes).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    description: str
    run: Callable[[datetime], int]   # returns how many things it did
    daily_at: str | None = None      # "HH:MM" Asia/Shanghai: one turn a day from then
    lock_seconds: int | None = None  # how long one run may hold the job's lock


def _auto_cancel_unconfirmed(now: datetime | None) -> int:
    from app.services.cancellation import system

    return system.auto_cancel_unconfirmed(now)


def _seal_audit(now: datetime | None) -> int:
    from app.services.audit import seal

    return seal.seal_pending(now)


JOBS: tuple[Job, ...] = (
    Job("audit_seal", 10, "将新的审计记录按顺序加入哈希链（防篡改）", _seal_audit),
    Job("auto_cancel_unconfirmed", 60,
        "取消超过确认期限仍未确认的面试（原因：超时未确认），并通知候选人和招聘团队",
        _auto_cancel_unconfirmed),
)


def get_job(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)


def run_due(worker_id: str, now: datetime | None = None) -> int:
    """Take every job's turn this worker wins now (inside an app context); returns how
    many things the jobs did. (The worker's scheduler calls turns.run_turn per job.)"""
    from app.jobs import turns

    done = 0
    for job in JOBS:
        outcome = turns.run_turn(job, worker_id, now=now)
        if outcome is not None and outcome.result:
            done += outcome.result
    return done
