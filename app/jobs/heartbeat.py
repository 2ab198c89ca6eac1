"""Worker heartbeats: each worker says it is alive every few seconds (the scheduler calls
beat(worker_id)); /readyz and /metrics report the workers heard from in the last minute.

One Redis key per worker, `worker:heartbeat:<worker_id>` under the app's prefix, holding
the time of the last beat (ISO 8601, UTC) and expiring after TTL_SECONDS: a worker killed
with -9 disappears from alive_workers() a minute later at most, with nobody cleaning up.

Trap: worker ids may contain ":" (host:pid): the id is what follows the key's fixed part,
not the last segment.
"""
from __future__ import annotations

from datetime import UTC, datetime

from app.extensions import redis_store

TTL_SECONDS = 60


def _key(worker_id: str) -> str:
    return redis_store.key("worker", "heartbeat", worker_id)


def beat(worker_id: str) -> None:
    """Record that this worker is alive now."""
    redis_store.client.set(_key(worker_id), datetime.now(UTC).isoformat(), ex=TTL_SECONDS)


def alive_workers() -> dict[str, str]:
    """worker id -> time of its last beat (ISO), for the workers heard from within
    TTL_SECONDS."""
    prefix = _key("")
    client = redis_store.client
    keys = sorted(k.decode() if isinstance(k, bytes) else k
                  for k in client.scan_iter(match=_glob_escape(prefix) + "*", count=500))
    if not keys:
        return {}
    values = client.mget(keys)
    return {key[len(prefix):]: (value.decode() if isinstance(value, bytes) else value)
            for key, value in zip(keys, values, strict=True) if value is not None}


def _glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[]" else ch for ch in text)
