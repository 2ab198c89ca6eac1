"""Giving back what a stopping worker claimed and did not finish: outbox rows and webhook
deliveries still `sending` under its id return to `queued` at once (not after their
lease), with the attempt it never made taken back.

Trap: only call this once the worker's sends have finished (or been abandoned): a row
released while its send is still running could go out twice (WeChat's client_msg_id and
the receivers' event ids absorb a repeat, but no need to cause one).
"""
from __future__ import annotations

from sqlalchemy import case, update

from app.extensions import db
from app.models import (
    DeliveryStatus,
    OutboxMessage,
    OutboxStatus,
    WebhookDelivery,
)


def release_claims(worker_id: str) -> dict[str, int]:
    """Return this worker's unfinished claims to the queue; {table: rows released}."""
    released = {}
    for model, sending, queued in (
            (OutboxMessage, OutboxStatus.SENDING, OutboxStatus.QUEUED),
            (WebhookDelivery, DeliveryStatus.SENDING, DeliveryStatus.QUEUED)):
        released[model.__tablename__] = db.session.execute(
            update(model).where(model.status == sending, model.claimed_by == worker_id)
            .values(status=queued, claimed_by=None, lease_until=None,
                    attempts=case((model.attempts > 0, model.attempts - 1), else_=0))
            .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return released
