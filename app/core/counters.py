"""Event counters for /metrics that no table records: one Redis hash per counter family,
one field per label set, HINCRBY per event; /metrics reads the hash at scrape time, so
every process (web and worker, any number of hosts) reports the same totals.

- callbacks: `callback(app, outcome)`, one per WeChat callback (wechat_handlers/views.py)
  -> aiic_wechat_callbacks_total{app,outcome}
- job runs: `job_run(job, outcome)`, one per recorded end of a scheduled job's run
  (app/jobs/turns.py) -> aiic_job_runs_total{job,outcome}

Traps:
- Best effort: counting must never fail or slow what it counts. A Redis error is
  swallowed (logged at debug): a callback is answered whatever the counter did.
- The totals live in Redis: flushing Redis resets them (Prometheus's rate() and
  increase() treat that as a counter reset).
- Labels are joined with "|" into the hash field: no label value may contain one
  (apps, outcomes and job names are plain identifiers).
"""
from __future__ import annotations

import logging

from app.extensions import redis_store

log = logging.getLogger(__name__)

CALLBACKS = "callbacks"
JOB_RUNS = "job-runs"
SEPARATOR = "|"

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


def _key(family: str) -> str:
    return redis_store.key("metrics", family)


def incr(family: str, *labels: str) -> None:
    """Add one to the counter of these labels (best effort)."""
    try:
        redis_store.client.hincrby(_key(family), SEPARATOR.join(labels), 1)
    except Exception:  # never fail the thing counted
        log.debug("counter %s %s not counted", family, labels, exc_info=True)


def read(family: str) -> dict[tuple[str, ...], int]:
    """Every label set of the family and its total (empty when Redis has none)."""
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
