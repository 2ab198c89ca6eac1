"""Log lines as JSON (LOG_FORMAT=json, production's default): one object per line.

    {"time": "2026-12-01T06:30:00.123Z", "level": "INFO", "logger": "app.x",
     "message": "...", "request_id": "...", "worker_id": "...", "outbox_id": 12,
     "interview_id": 34, "exc_info": "Traceback ..."}

`request_id` is the request's (app.core.errors.request_id) while a request is being
served, or the one the log call passes (`extra={"request_id": ...}`: the worker's send
lines pass the row's stored id, so one grep follows a cancellation from its request to
each message sent). The other context fields appear when the call passes them
(`log_fields(...)` builds that `extra`).

Traps:
- Redaction happens when the record is MADE (app.core.log_redaction, a record factory):
  this formatter formats the already redacted message and exception text. Values passed
  in `extra` are set on the record after the factory ran: the request id (it may come
  from a client) is redacted here; the other context fields are ids and names our code
  passes (nothing in them to redact, and each redaction runs every pattern again).
- Only handlers that are plain logging.StreamHandler on the root logger get the
  formatter (logging.basicConfig's, in gunicorn workers and `flask worker`): pytest's
  capture handlers and anything else a host installed keep their own format.
- Installing twice (every create_app) sets the same formatter again; nothing stacks.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from flask import Flask

from app.core.log_redaction import redact

FORMATS = ("json", "text")
# Context fields a log call may pass in `extra`, in the order they are written.
CONTEXT_FIELDS = ("request_id", "worker_id", "outbox_id", "interview_id", "delivery_id",
                  "job", "channel", "status", "errcode")


def log_fields(**fields) -> dict:
    """`extra=` for a log call: the context fields given (None values left out)."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log fields {sorted(unknown)}")
    return {k: v for k, v in fields.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if isinstance(entry.get("request_id"), str):  # may come from a client (the proxy)
            entry["request_id"] = redact(entry["request_id"])
        if "request_id" not in entry:
            request_id = _request_id()
            if request_id:
                entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def _request_id() -> str | None:
    try:
        from app.core.request_context import current_request_id

        return current_request_id()
    except Exception:  # a log line must never fail for its context
        return None


def apply(logger: logging.Logger, formatter: logging.Formatter | None = None) -> int:
    """Give the logger's plain StreamHandlers the JSON formatter; how many it changed."""
    formatter = formatter or JsonFormatter()
    changed = 0
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setFormatter(formatter)
            changed += 1
    return changed


def install(app: Flask) -> None:
    """create_app: JSON lines on the root logger's stream handler when LOG_FORMAT=json."""
    fmt = (app.config.get("LOG_FORMAT") or "text").lower()
    if fmt not in FORMATS:
        from config.settings import ConfigError

        raise ConfigError([], [f"LOG_FORMAT must be json or text, got {fmt!r}"])
    if fmt == "json":
        apply(logging.getLogger())
