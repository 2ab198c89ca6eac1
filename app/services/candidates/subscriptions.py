"""wx.requestSubscribeMessage results: one accept is one message credit."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Subscription

RESULTS = ("accept", "reject", "ban")


def record_results(openid: str, results: dict[str, str]) -> int:
    """Record one tap's results per template; returns the number of credits granted."""
    granted = 0
    for template_id, result in results.items():
        sub = db.session.scalars(select(Subscription).where(
            Subscription.openid == openid, Subscription.template_id == template_id)
            .with_for_update()).first()
        if sub is None:
            sub = Subscription(openid=openid, template_id=template_id, credits=0)
            db.session.add(sub)
        sub.last_result = result
        if result == "accept":
            sub.credits = (sub.credits or 0) + 1
            granted += 1
        elif result == "ban":
            sub.credits = 0
    db.session.commit()
    return granted
