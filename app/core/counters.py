"""Event counters for /metrics that no table records: one Redis hash per counter family,
one field per label set; /metrics reads the hash at scrape time, so every process (web
and worker, any number of hosts) reports the same totals.

- callbacks: `callback(app, outcome)`, one per WeChat callback (wechat_handlers/views.py)
  -> aiic_wechat_callbacks_total{app,outcome}
- job runs: `job_run(job, outcome)`, one per recorded end of a scheduled job's run
  (app/jobs/turns.py) -> aiic_job_runs_total{job,outcome}

Counting is an addition in process memory; each process adds its counts to Redis (one
pipelined HINCRBY per label set) at most FLUSH_SECONDS after the first one, from a timer
thread, and before it reads (a scrape): no Redis round trip is added to a callback
(a delivery callback of idempotent handlers makes none at all otherwise).

Traps:
- Best effort: counting never fails or slows what it counts. A Redis error at a flush
  keeps the counts for the next one (a handful of integers per label set, never more).
- A process killed -9 loses the counts of its last FLUSH_SECONDS; other processes' counts
  reach a scrape up to FLUSH_SECONDS late.
- The totals live in Redis: flushing Redis resets them (Prometheus's rate() and
  increase() treat that as a counter reset).
- The buffer is per (Redis client, key): several apps in one process (tests) each add to
  their own namespace, whatever the app current at flush time.
- Labels are joined with "|" into the hash field: no label value may contain one
  (apps, outcomes and job names are plain identifiers).
"""
from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter

from app.extensions import redis_store

log = logging.getLogger(__name__)

CALLBACKS = "callbacks"
JOB_RUNS = "job-runs"
SEPARATOR = "|"
FLUSH_SECONDS = 1.0

# The refusal codes of wechat_handlers.security, grouped into the callbacks' outcomes.
REFUSAL_OUTCOMES = {
    "invalid_signature": "refused_signature",
    "plaintext_refused": "refused_plaintext",
    "encryption_not_configured": "refused_plaintext",
    "stale_timestamp": "refused_stale",
    "invalid_timestamp": "refused_stale",
    "payload_too_large": "too_large",
    "bad_xml": "bad_request",
    "bad_ciphertext": "bad_request",
}
CALLBACK_OUTCOMES = ("accepted", "duplicate", "echo", "error",
                     *sorted(set(REFUSAL_OUTCOMES.values())))


class _Buffer:
    """Counts not yet in Redis: {(id(client), key): (client, Counter(field -> n))}."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, str], tuple[object, Counter]] = {}
        self._timer: threading.Timer | None = None

    def add(self, client, key: str, field: str) -> None:
        with self._lock:
            entry = self._pending.get((id(client), key))
            if entry is None:
                entry = self._pending[(id(client), key)] = (client, Counter())
            entry[1][field] += 1
            if self._timer is None:
                self._timer = threading.Timer(FLUSH_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        failed = []
        for (client_id, key), (client, counts) in pending.items():
            try:
                pipe = client.pipeline(transaction=False)
                for field, n in counts.items():
                    pipe.hincrby(key, field, n)
                pipe.execute()
            except Exception:  # kept for the next flush; never fail what was counted
                log.debug("counters %s not flushed", key, exc_info=True)
                failed.append(((client_id, key), (client, counts)))
        if failed:
            with self._lock:
                for slot, (client, counts) in failed:
                    entry = self._pending.setdefault(slot, (client, Counter()))
                    entry[1].update(counts)


_buffer = _Buffer()
atexit.register(_buffer.flush)


def _key(family: str) -> str:
    return redis_store.key("metrics", family)


def incr(family: str, *labels: str) -> None:
    """Add one to the counter of these labels (best effort, flushed within a second)."""
    try:
        _buffer.add(redis_store.client, _key(family), SEPARATOR.join(labels))
    except Exception:  # never fail the thing counted
        log.debug("counter %s %s not counted", family, labels, exc_info=True)


def flush() -> None:
    """Add this process's pending counts to Redis now."""
    _buffer.flush()


def read(family: str) -> dict[tuple[str, ...], int]:
    """Every label set of the family and its total (this process's counts flushed first)."""
    flush()
    raw = redis_store.client.hgetall(_key(family))
    out = {}
    for field, value in raw.items():
        field = field.decode() if isinstance(field, bytes) else str(field)
        out[tuple(field.split(SEPARATOR))] = int(value)
    return out


def callback(app: str, outcome: str) -> None:
    """One WeChat callback of `app` (oa / mp) ended with `outcome` (CALLBACK_OUTCOMES)."""
    incr(CALLBACKS, app, outcome)


def refusal_outcome(code: str) -> str:
    """The callbacks' outcome of a refusal code (an unknown code: refused_<code>)."""
    return REFUSAL_OUTCOMES.get(code, f"refused_{code}")


def job_run(job: str, outcome: str) -> None:
    """One run of a scheduled job ended: ok, error, stopped or superseded."""
    incr(JOB_RUNS, job, outcome)
