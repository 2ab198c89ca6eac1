"""Job: the daily digest of yesterday (Beijing) to each HR owner, from DIGEST_FROM
Beijing time; runs often, queues each owner's digest once a day (outbox dedupe key)."""
from __future__ import annotations

from datetime import datetime, time

from app.core.timeutil import local, utcnow

DIGEST_FROM = time(8, 0)   # Asia/Shanghai
DIGEST_FROM_TEXT = DIGEST_FROM.strftime("%H:%M")


def run(now: datetime | None = None) -> int:
    from app.extensions import db
    from app.services.notifications.outbox import wake_dispatcher
    from app.services.watchdogs.digest import send_digests

    now = now or utcnow()
    if local(now).time() < DIGEST_FROM:
        return 0
    queued = send_digests(now)
    db.session.commit()
    if queued:
        wake_dispatcher()
    return queued
