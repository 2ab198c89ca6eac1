"""Console: the "notified within 1 hour" promise — latency percentiles and the overdue list."""
from __future__ import annotations

from flask import render_template

from app.console import bp
from app.console.views import current_actor, permission_required
from app.queries.notifications.promise import promise_stats
from templates_msg.catalogue import TITLES


@bp.get("/notifications/promise")
@permission_required("view")
def notification_promise():
    """Latency and overdue candidate messages of the interviews this user sees."""
    return render_template("console/promise.html", stats=promise_stats(actor=current_actor()),
                           titles=TITLES)
