"""One watchdog round: every check, each in its own transaction (one failing check does
not hold up the others)."""
from __future__ import annotations

import logging
from datetime import datetime

from app.extensions import db
from app.services.notifications.outbox import wake_dispatcher
from app.services.watchdogs.alerts import reconcile
from app.services.watchdogs.checks import CHECKS

log = logging.getLogger(__name__)


def run_watchdogs(now: datetime) -> int:
    """Open, refresh and clear the alerts of every check at `now`; returns how many
    alerts were opened or cleared."""
    changed = 0
    for kind, check in CHECKS.items():
        try:
            result = reconcile((kind,), check(now), now)
            db.session.commit()
        except Exception:
            log.exception("watchdog %s failed; it runs again at its next turn", kind)
            db.session.rollback()
            continue
        if result.opened:
            wake_dispatcher()
        changed += result.changed
    return changed
