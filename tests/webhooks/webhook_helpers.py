"""Small helpers shared by the webhook tests."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import factories


def run(app, worker: str = "w-test", limit: int = 20) -> int:
    from app.services.webhooks.sender import dispatch_due

    with app.app_context():
        try:
            return dispatch_due(worker, limit)
        finally:
            db.session.remove()


def deliveries(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        db.session.expunge_all()
        return list(rows)


def attempts(app, delivery_id: int) -> list[WebhookAttempt]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookAttempt).where(
            WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)).all()
        db.session.expunge_all()
        return list(rows)


def endpoint(app, endpoint_id: int) -> WebhookEndpoint:
    return factories.detached(app, WebhookEndpoint, endpoint_id)


def time_passes(app, *, first_attempt_hours_ago: float | None = None,
                ids: list[int] | None = None) -> None:
    """Make every waiting delivery due now; optionally move its first attempt back in time
    (instead of sleeping through the retry window)."""
    now = utcnow()
    values = {"next_attempt_at": now - timedelta(seconds=1)}
    if first_attempt_hours_ago is not None:
        values["first_attempt_at"] = now - timedelta(hours=first_attempt_hours_ago)
    with app.app_context():
        stmt = update(WebhookDelivery).values(**values)
        if ids is not None:
            stmt = stmt.where(WebhookDelivery.id.in_(ids))
        db.session.execute(stmt)
        db.session.commit()
