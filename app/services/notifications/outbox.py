"""Writing outbox rows (inside the caller's transaction) and waking the dispatcher."""
from __future__ import annotations

import logging
import threading
import time
from functools import cache

from app.core import sqlwrite
from app.core.crypto import new_token, new_tokens
from app.core.timeutil import iso, utcnow
from app.extensions import db, redis_store
from app.models import Interview, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
WAKE_CHANNEL = "outbox-wake"


def interview_context(interview: Interview, *, reason_label: str = "", note: str = "") -> dict:
    """The facts a message about this interview may show (JSON-serializable)."""
    return {
        "interview_number": interview.number,
        "interview_public_id": interview.public_id,
        "candidate_name": interview.candidate.name,
        "position_title": interview.position.title,
        "department": interview.position.department,
        "scheduled_at": iso(interview.scheduled_at),
        "reason_label": reason_label,
        "note": note,
    }


def dedupe_key(event: str, recipient_type: str, recipient_id: int, kind: str) -> str:
    return f"{event}:{recipient_type}:{recipient_id}:{kind}"


DEDUPE = ("dedupe_key",)  # (event, recipient, kind) is written once, on every path


OPEN_TOKEN_BYTES = 18


def open_tokens(count: int) -> list[str]:
    """Open tokens for `count` messages at once (what message_row() draws one by one)."""
    return new_tokens(count, OPEN_TOKEN_BYTES)


def message_row(*, event: str, kind: str, recipient_type: str, recipient_id: int,
                interview_id: int | None, context: dict, now=None,
                request_id: str | None = None, open_token: str | None = None) -> dict:
    """The row builder: the column values of one queued message (`request_id`: the
    request that queued it, Actor.request_id; `open_token`: one of open_tokens(), for a
    writer queueing thousands)."""
    now = now or utcnow()
    return dict(
        dedupe_key=dedupe_key(event, recipient_type, recipient_id, kind),
        event=event, kind=kind, recipient_type=recipient_type, recipient_id=recipient_id,
        interview_id=interview_id, context=context, status=OutboxStatus.QUEUED,
        next_attempt_at=now, open_token=open_token or new_token(OPEN_TOKEN_BYTES),
        attempts=0, open_count=0, created_at=now, updated_at=now, request_id=request_id)


message_values = message_row  # older name


def write(connection, rows: list[dict], *, ids: bool = True) -> list[int]:
    """The writer: insert these rows on the caller's connection (in its transaction),
    skipping any whose dedupe key exists. Returns the new rows' ids (`ids=False`: nothing,
    for a batch that does not use them: 3,000 ids fewer to send back per chunk)."""
    written = sqlwrite.insert_set(connection, OutboxMessage.__table__, rows,
                                  conflict=DEDUPE, returning=("id",) if ids else ())
    return [r[0] for r in written]


def enqueue(*, event: str, kind: str, recipient_type: str, recipient_id: int,
            interview: Interview | None, context: dict) -> OutboxMessage | None:
    """Queue one message in the session's transaction (None: already queued)."""
    if interview is not None and interview.id is None:
        db.session.flush()
    ids = write(db.session.connection(), [message_row(
        event=event, kind=kind, recipient_type=recipient_type, recipient_id=recipient_id,
        interview_id=interview.id if interview is not None else None, context=context)])
    return db.session.get(OutboxMessage, ids[0]) if ids else None


@cache
def fanout_rows(count: int) -> list:
    """INSERTs of `count` queued messages about one event and interview, for callers
    writing with SQL statements (app.core.sqlwrite). Parameters: per message those of
    fanout_params(); shared with the caller: `iv_id` (the interview) and `now`."""
    return sqlwrite.insert_rows(
        OutboxMessage.__table__, count, "m",
        ("dedupe_key", "kind", "recipient_type", "recipient_id", "open_token"),
        shared={"event": "event", "interview_id": "iv_id", "context": "message_context",
                "status": sqlwrite.constant(OutboxStatus.QUEUED),
                "attempts": sqlwrite.constant(0), "open_count": sqlwrite.constant(0),
                "next_attempt_at": "now", "created_at": "now", "updated_at": "now",
                "request_id": "trail_request_id"},
        conflict=DEDUPE)


def fanout_params(event: str, context: dict, recipients, request_id: str | None = None
                  ) -> dict:
    """The parameters of fanout_rows() for recipients (kind, recipient_type, recipient_id),
    built by message_row() like every other path."""
    rows = [message_row(event=event, kind=kind, recipient_type=recipient_type,
                        recipient_id=recipient_id, interview_id=None, context=context)
            for kind, recipient_type, recipient_id in recipients]
    params = sqlwrite.rows_params("m", [
        {c: row[c] for c in ("dedupe_key", "kind", "recipient_type", "recipient_id",
                             "open_token")} for row in rows])
    params["event"] = event
    params["message_context"] = context
    params["trail_request_id"] = request_id
    return params


# A burst of commits (a busy cancel endpoint) wakes the workers once per interval per
# process instead of once per commit: one Redis round trip less per request under load.
WAKE_INTERVAL_SECONDS = 0.05


class _WakeDebouncer:
    """Per process and channel: publish at once when the last wake-up is older than the
    interval, otherwise once at the end of it. The last commit of a burst is always
    followed by a wake-up, so no row waits for the sweep."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state: dict[str, list] = {}  # channel -> [next allowed at, trailing pending]

    def wake(self, client, channel: str) -> None:
        now = time.monotonic()
        with self._lock:
            state = self._state.setdefault(channel, [0.0, False])
            if state[1]:
                return  # a trailing wake-up is already scheduled; it covers this commit
            if now >= state[0]:
                state[0] = now + WAKE_INTERVAL_SECONDS
                delay = None
            else:
                state[1] = True
                delay = state[0] - now
        if delay is None:
            _publish(client, channel)
        else:
            timer = threading.Timer(delay, self._trailing, (client, channel))
            timer.daemon = True
            timer.start()

    def _trailing(self, client, channel: str) -> None:
        with self._lock:
            self._state[channel] = [time.monotonic() + WAKE_INTERVAL_SECONDS, False]
        _publish(client, channel)


_debouncer = _WakeDebouncer()


def wake_dispatcher() -> None:
    """Tell workers new rows are due (after commit). Losing this is harmless: they sweep."""
    _debouncer.wake(redis_store.client, redis_store.key(WAKE_CHANNEL))


def _publish(client, channel: str) -> None:
    try:
        client.publish(channel, b"1")
    except Exception:  # the periodic sweep covers a lost wake-up
        log.warning("could not publish outbox wake-up", exc_info=True)
