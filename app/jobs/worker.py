"""The worker: `flask worker` in production (any number of processes), a thread under
`make run`. It runs the outbox dispatcher and the job scheduler (app.jobs.scheduler).

The dispatcher sleeps on a Redis pub/sub channel (woken right after a commit that queued
messages) with a periodic sweep as fallback, claims due rows and sends them concurrently.

Stopping (SIGTERM, `stop()`): no new claims, no new job runs; the sends in flight, the
batch chunk and job runs in progress finish; a batch stops between chunks (another worker
resumes it); then whatever this worker still holds `sending` is released to the queue
(app.jobs.release), so nothing stays claimed until a lease runs out.

Redis unreachable: the worker keeps running (sweeping instead of waiting for wake-ups,
skipping job turns and batch runs) and logs the outage once.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flask import Flask
from redis.exceptions import RedisError

from app.extensions import db, redis_store
from app.jobs.scheduler import JobScheduler, Outage
from app.services.notifications import dispatch
from app.services.notifications.outbox import WAKE_CHANNEL
from app.services.webhooks import sender as webhook_sender

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, app: Flask):
        self.app = app
        self.worker_id = f"w-{uuid.uuid4().hex[:12]}"
        self.stopping = threading.Event()
        cfg = app.config
        self.batch = cfg["WORKER_BATCH_SIZE"]
        self.sweep = cfg["WORKER_SWEEP_SECONDS"]
        self.concurrency = cfg["WORKER_CONCURRENCY"]
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                       thread_name_prefix="outbox-send")
        self.hook_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks")
        self.outage = Outage()
        self.scheduler: JobScheduler | None = None
        self.released: dict[str, int] = {}
        self.buffer: deque = deque()  # claimed plans waiting for a free send thread

    def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were handled."""
        plans = self._claim(self.batch)
        list(self.pool.map(self._send, plans))
        return len(plans)

    def _claim(self, limit: int) -> list:
        with self.app.app_context():
            try:
                return dispatch.claim(limit, self.worker_id)
            finally:
                db.session.remove()

    def _send(self, plan):
        row_id = plan.row_id
        with self.app.app_context():
            try:
                # each accepted send is committed at once (dispatch: the crash window)
                return dispatch.send_one(row_id, self.worker_id, plan)
            except Exception:
                log.exception("outbox row %s: unexpected error while sending", row_id)
                db.session.rollback()
            finally:
                db.session.remove()

    def drain(self, max_rounds: int = 100) -> int:
        """Send until nothing is due (tests, CLI): outbox rows, then webhooks."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once() + self._webhooks_once() + self._batches_once(
                stop=lambda: False)
            total += handled
            if not handled:
                break
        return total

    def run_forever(self) -> None:
        """Keep up to WORKER_CONCURRENCY sends in flight; sleep on the wake-up channel
        (or the sweep interval) when nothing is due."""
        log.info("worker %s started", self.worker_id)
        pubsub = self._subscribe()
        self.scheduler = JobScheduler(self.app, self.worker_id, self.outage, self.stopping
                                      ).start(with_jobs=self.app.config.get(
                                          "SCHEDULER_ENABLED", True))
        in_flight: set[Future] = set()
        hooks: Future | None = None
        next_hooks = 0.0
        try:
            while not self.stopping.is_set():
                if (hooks is None or hooks.done()) and time.monotonic() >= next_hooks:
                    next_hooks = time.monotonic() + 1.0
                    # a slow receiver never holds up WeChat sends: its own task
                    hooks = self.hook_pool.submit(self._background_once)
                claimed = self._claim_into(in_flight)
                if in_flight:
                    done, in_flight = wait(in_flight, timeout=0 if claimed else 0.2,
                                           return_when=FIRST_COMPLETED)
                    in_flight = set(in_flight)
                    if not claimed and not done:
                        pubsub = self._poll(pubsub, 0)
                    continue
                if not claimed:
                    pubsub = self._poll(pubsub, self.sweep)
            wait(in_flight)
        finally:
            self.stopping.set()
            if self.scheduler is not None:
                self.scheduler.shutdown()
            if pubsub is not None:
                pubsub.close()
            self.pool.shutdown(wait=True)
            self.hook_pool.shutdown(wait=True)
            self._release()
            log.info("worker %s stopped", self.worker_id)

    def _release(self) -> None:
        from app.jobs.release import release_claims

        with self.app.app_context():
            try:
                # the last sends' early delivery results (looked for in batches)
                dispatch.apply_early_deliveries()
                self.released = release_claims(self.worker_id)
                if any(self.released.values()):
                    log.info("worker %s released %s", self.worker_id, self.released)
            except Exception:
                log.exception("releasing claims failed; their leases will expire")
                db.session.rollback()
            finally:
                db.session.remove()

    def _subscribe(self):
        """The wake-up channel, or None while Redis is unreachable (then: sweeps)."""
        with self.app.app_context():
            try:
                pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(redis_store.key(WAKE_CHANNEL))
            except RedisError as exc:
                self.outage.failed(exc)
                return None
        self.outage.ok()
        return pubsub

    def _background_once(self) -> int:
        return self._webhooks_once() + self._batches_once()

    def _batches_once(self, stop=None) -> int:
        """Run queued batch cancels (and resume any a dead or stopped worker left), one
        worker per batch at a time (a Redis lock), chunk by chunk; a stopping worker
        stops between chunks."""
        from app.services.cancellation import batch
        from app.services.integration.import_runner import run_due_imports

        ran = 0
        with self.app.app_context():
            try:
                # 确认导入 jobs likewise (claimed with a lease in the database, no Redis)
                ran += run_due_imports(self.worker_id, stop=stop or self.stopping.is_set)
                for batch_id in batch.due_batch_ids():
                    lock = redis_store.client.lock(redis_store.key("batch-run", batch_id),
                                                   timeout=600, blocking=False)
                    if not lock.acquire(blocking=False):
                        continue
                    try:
                        batch.run(batch_id, stop=stop or self.stopping.is_set)
                        ran += 1
                    finally:
                        try:
                            lock.release()
                        except Exception:  # expired: another worker may resume it
                            log.warning("batch %s: lock expired while running", batch_id)
            except RedisError as exc:
                self.outage.failed(exc)
                db.session.rollback()
            except Exception:
                log.exception("batch cancel failed; will resume")
                db.session.rollback()
            finally:
                db.session.remove()
        return ran

    def _webhooks_once(self) -> int:
        with self.app.app_context():
            try:
                return webhook_sender.dispatch_due(self.worker_id, self.batch)
            except Exception:
                log.exception("webhook dispatch failed; will retry")
                db.session.rollback()
                return 0
            finally:
                db.session.remove()

    def _claim_into(self, in_flight: set) -> int:
        """Start sends on the free threads, from claimed plans. Claims take full batches
        (WORKER_BATCH_SIZE) into a buffer: one claim and one set of routing queries per
        batch, not per few finished sends. Buffered rows are ours (leased) until sent or
        released when the worker stops."""
        if len(in_flight) >= self.concurrency:
            return 0
        if not self.buffer:
            try:
                self.buffer.extend(self._claim(self.batch))
            except Exception:
                log.exception("outbox worker: claiming failed; retrying after a pause")
                self.stopping.wait(self.sweep)
                return 0
        started = 0
        while self.buffer and len(in_flight) < self.concurrency:
            in_flight.add(self.pool.submit(self._send, self.buffer.popleft()))
            started += 1
        return started

    def _poll(self, pubsub, timeout: float):
        """Wait for a wake-up (or the sweep); returns the channel to use next (None while
        Redis is unreachable: the next poll subscribes again)."""
        if pubsub is None:
            self.stopping.wait(timeout)
            return self._subscribe()
        try:
            message = pubsub.get_message(timeout=timeout)
            while message is not None:  # drain wake-ups that arrived meanwhile
                message = pubsub.get_message(timeout=0)
            return pubsub
        except Exception as exc:
            self.outage.failed(exc)
            try:
                pubsub.close()
            except Exception:  # the connection is gone already
                pass
            self.stopping.wait(timeout)
            return None

    def stop(self) -> None:
        self.stopping.set()


class EmbeddedWorker:
    """A Worker running in a daemon thread of the web process."""

    def __init__(self, app: Flask):
        self.worker = Worker(app)
        self.thread = threading.Thread(target=self.worker.run_forever, name="outbox-worker",
                                       daemon=True)

    def start(self) -> EmbeddedWorker:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self.worker.stop()
        self.thread.join(timeout)


def start_embedded_worker(app: Flask) -> EmbeddedWorker:
    return EmbeddedWorker(app).start()


def drain(app: Flask) -> int:
    """Send every due message now, synchronously."""
    worker = Worker(app)
    try:
        return worker.drain()
    finally:
        worker.pool.shutdown(wait=True)
        worker.hook_pool.shutdown(wait=True)
