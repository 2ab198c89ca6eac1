"""The worker's scheduler: APScheduler 3.x (BackgroundScheduler) firing each job of
app.jobs.schedule.JOBS on an interval trigger, plus the worker's heartbeat.

A trigger firing does not mean the job runs: turns.run_turn decides (once per period
across every worker). SCHEDULER_TICK_SECONDS (tests) fires every trigger that often;
the turns still follow the clock, so a simulated clock walks the schedule.

Traps: APScheduler runs callbacks in its own threads: each opens its own app context
and session; `coalesce` and `max_instances=1` keep one run per job per process; Redis
being unreachable is an outage logged once (Outage), not an exit.
"""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from redis.exceptions import RedisError

from app.extensions import db

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10


class Outage:
    """Logs once when Redis becomes unreachable and once when it is back (per worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down = False

    def failed(self, exc: Exception) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
        log.warning("Redis unreachable (%s); the worker keeps running and retries", exc)

    def ok(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.info("Redis reachable again")


class JobScheduler:
    def __init__(self, app: Flask, worker_id: str, outage: Outage,
                 stopping: threading.Event):
        self.app = app
        self.worker_id = worker_id
        self.outage = outage
        self.stopping = stopping
        quiet = logging.getLogger("apscheduler")
        if quiet.level == logging.NOTSET:  # its INFO line per run would drown the log
            quiet.setLevel(logging.WARNING)
        # SQLite (the embedded default) has one writer at a time: one job at a time there
        sqlite = str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite")
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1 if sqlite else 4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60})

    def start(self, *, with_jobs: bool = True) -> JobScheduler:
        """Fire the heartbeat, and the jobs unless `with_jobs` is false (a dispatcher-only
        worker, SCHEDULER_ENABLED=0, still beats)."""
        from app.jobs.schedule import JOBS

        tick = self.app.config.get("SCHEDULER_TICK_SECONDS")
        first = datetime.now(UTC)
        for job in JOBS if with_jobs else ():
            self.scheduler.add_job(self.run_job, IntervalTrigger(
                seconds=float(tick or job.every_seconds)), args=(job.name,),
                id=f"job:{job.name}", name=job.name, next_run_time=first)
        self.scheduler.add_job(self.beat, IntervalTrigger(seconds=HEARTBEAT_SECONDS),
                               id="heartbeat", next_run_time=first)
        self.scheduler.start()
        log.info("scheduler of %s started: %d jobs", self.worker_id,
                 len(JOBS) if with_jobs else 0)
        return self

    def run_job(self, name: str) -> None:
        if self.stopping.is_set():
            return
        from app.jobs import schedule, turns

        with self.app.app_context():
            try:
                turns.run_turn(schedule.get_job(name), self.worker_id,
                               stopping=self.stopping.is_set)
                self.outage.ok()
            except RedisError as exc:
                self.outage.failed(exc)
            except Exception:
                log.exception("job %s failed; it runs again at its next turn", name)
            finally:
                db.session.remove()

    def beat(self) -> None:
        """Tell /readyz this worker is alive (app.jobs.heartbeat)."""
        try:
            from app.jobs import heartbeat
        except ImportError:
            return
        with self.app.app_context():
            try:
                heartbeat.beat(self.worker_id)
                self.outage.ok()
            except RedisError as exc:
                self.outage.failed(exc)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def shutdown(self) -> None:
        """Stop firing; wait for the runs in progress to finish."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
