"""The webhook deliveries about one interview, for its console pages (desktop and mobile),
each with the request id that queued it (issue 12 §7).

Deliveries carry no interview column: the interview is found in the payload every
interview event carries (`interview.id`, the public id). Trap: that is a JSON path
filter, not an index, so the read is bounded (LIMIT) and only the detail pages use it.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models.webhook import WebhookDelivery

LIMIT = 50


def deliveries_of(interview_public_id: str) -> list[WebhookDelivery]:
    """The latest deliveries (newest first) of events about this interview."""
    return list(db.session.scalars(
        select(WebhookDelivery).options(joinedload(WebhookDelivery.endpoint))
        .where(WebhookDelivery.payload[("interview", "id")].as_string()
               == interview_public_id)
        .order_by(WebhookDelivery.id.desc()).limit(LIMIT)))
