"""JSON shapes of the candidate API."""
from __future__ import annotations

from datetime import datetime

from app.core.timeutil import iso
from app.models import Interview, InterviewStatus
from app.models.interview import ACTIVE_STATUSES
from app.queries.interviews.candidate import CancellationView
from app.services.cancellation import candidate_can_cancel
from app.services.rules import Rules, get_rules


def can_cancel(iv: Interview, now: datetime, rules: Rules | None = None) -> bool:
    """Interview: the model, or the cancel path's InterviewFacts (same attributes). The
    cancel policy's own answer, so the flag never disagrees with the POST."""
    return candidate_can_cancel(iv, rules or get_rules(), now)


def interview(iv: Interview, now: datetime, rules: Rules | None = None,
              state: CancellationView | None = None) -> dict:
    rules = rules or get_rules()
    hours = rules.cancel_deadline_hours
    return {
        "id": iv.public_id,
        "number": iv.number,
        "status": iv.status.value,
        "status_label": iv.status.label,
        "position": {"title": iv.position.title, "department": iv.position.department},
        "scheduled_at": iso(iv.scheduled_at),
        "duration_minutes": iv.duration_minutes,
        "join_url": iv.join_url,
        "can_cancel": can_cancel(iv, now, rules),
        "can_reschedule": (iv.status in ACTIVE_STATUSES
                           and now < iv.cancel_deadline(hours)),
        "cancel_deadline": iso(iv.cancel_deadline(hours)),
        "confirm_by": iso(iv.confirm_by),
        "cancelled_by": (state.cancelled_by if state is not None
                         and iv.status == InterviewStatus.CANCELLED else None),
        "detail_requested": state.detail_question if state is not None else None,
    }
