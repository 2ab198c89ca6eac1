"""Console: the watchdogs' alerts. A banner on every page shows the open alerts this user
sees (their departments', those they were told of; admins: all) until acknowledged
(知道了, audited); /console/alerts lists the open ones, acknowledged too."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.timeutil import utcnow
from app.services.watchdogs import alerts as service


@bp.context_processor
def inject_open_alerts():
    """The banner's alerts (none on pages without a signed-in user)."""
    if not getattr(current_user, "is_authenticated", False):
        return {"banner_alerts": []}
    try:
        return {"banner_alerts": service.open_alerts(current_actor(), limit=5)}
    except Exception:  # a banner must never break a page
        return {"banner_alerts": []}


@bp.get("/alerts")
@permission_required("view")
def alerts_page():
    rows = service.open_alerts(current_actor(), include_acknowledged=True, limit=200)
    return render_template("console/alerts.html", rows=rows)


@bp.post("/alerts/<int:alert_id>/acknowledge")
@permission_required("view")
def acknowledge_alert(alert_id: int):
    service.acknowledge(current_actor(), alert_id, utcnow())
    flash("已确认该提醒，情况解除前不会再次提醒。", "success")
    target = request.form.get("next", "")
    # only our own pages (no open redirect)
    if not target.startswith("/console/") or target.startswith("//"):
        target = url_for("console.alerts_page")
    return redirect(target)
