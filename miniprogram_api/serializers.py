"""JSON shapes of the candidate API."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.models import Interview
from app.timeutil import iso


def interview(iv: Interview, now: datetime) -> dict:
    hours = current_app.config["CANCEL_DEADLINE_HOURS"]
    return {
        "id": iv.public_id,
        "number": iv.number,
        "status": iv.status.value,
        "status_label": iv.status.label,
        "position": {"title": iv.position.title, "department": iv.position.department},
        "scheduled_at": iso(iv.scheduled_at),
        "duration_minutes": iv.duration_minutes,
        "join_url": iv.join_url,
        "can_cancel": iv.candidate_can_cancel(now, hours),
        "cancel_deadline": iso(iv.cancel_deadline(hours)),
        "confirm_by": iso(iv.confirm_by),
    }
