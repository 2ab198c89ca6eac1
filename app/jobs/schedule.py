"""The scheduled jobs, in one list. Each runs at most once per interval across all
workers (a Redis lock with expiry: whichever worker takes the turn runs it) and is
idempotent anyway; each reads time from the `now` it is given (operators and tests run a
job at any clock with `flask jobs run NAME --now ISO-8601`)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from app.extensions import redis_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    description: str
    run: Callable[[datetime | None], int]   # returns how many things it did


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


def run_due(worker_id: str) -> int:
    """Run each job whose turn this worker takes now (inside an app context)."""
    done = 0
    for job in JOBS:
        if redis_store.client.set(redis_store.key("job", job.name), worker_id, nx=True,
                                  ex=job.every_seconds):
            done += job.run(None)
    return done
