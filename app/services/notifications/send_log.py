"""The worker's one log line per send result, carrying the row's stored request id.

The request that queued a message (a candidate's cancel, an HR action) stored its id on
the outbox row (outbox_messages.request_id); the line repeats it, with the worker, the
row and the interview, so one grep of the id shows the request, its cancellation and each
message sent. In JSON logs (app.core.json_logs) they are fields; in text logs the same
values are in the message, so the grep works in both.

Trap: this runs once per send on the dispatcher's hot path: one log call, nothing read.
"""
from __future__ import annotations

import logging

from app.core.json_logs import log_fields

log = logging.getLogger("app.services.notifications.dispatch")


def result(plan, worker_id: str, status, *, errcode: int | None = None) -> None:
    """Log what became of a claimed row (`status`: an OutboxStatus, or None when the row
    was no longer this worker's)."""
    if not log.isEnabledFor(logging.INFO):
        return
    route = plan.route
    channel = route.channel if route is not None else None
    status_text = getattr(status, "value", status) or "lost_lease"
    log.info("outbox row %s %s via %s (interview %s, request %s, worker %s)",
             plan.row_id, status_text, channel or "-", plan.interview_id or "-",
             plan.request_id or "-", worker_id,
             extra=log_fields(request_id=plan.request_id, worker_id=worker_id,
                              outbox_id=plan.row_id, interview_id=plan.interview_id,
                              channel=channel, status=status_text, errcode=errcode))
