"""GET /reports/cancellations: the cancellation report HR reads in the console (the same
figures, app.services.reports.figures), for the key's departments (scope reports:read)."""
from __future__ import annotations

from flask import g, jsonify, request

from app.integration_api import bp
from app.integration_api.guards import key_required
from app.services.reports import figures
from miniprogram_api.views import is_clean_text


def _arg(name: str) -> str | None:
    value = request.args.get(name)
    return value if value and is_clean_text(value) else None


@bp.get("/reports/cancellations")
@key_required("reports:read")
def cancellation_report():
    filters = figures.report_filters(_arg("date_from"), _arg("date_to"), _arg("department"))
    report = figures.cancellation_report(g.actor, filters)
    positions = figures.position_report(g.actor, filters)
    return jsonify(
        period={"date_from": filters.date_from.isoformat(),
                "date_to": filters.date_to.isoformat()},
        department=filters.department,
        total=report.total,
        per_day=[{"day": day, "count": n} for day, n in sorted(report.per_day.items())],
        per_week=[{"week_of": day, "count": n} for day, n in sorted(report.per_week.items())],
        by_reason=[{"code": r.code, "label": r.label, "category": r.category,
                    "count": r.count} for r in report.by_reason],
        by_category=report.by_category,
        by_initiator=report.by_initiator,
        positions=[{"title": p.title, "department": p.department,
                    "interviews": p.interviews, "cancelled": p.cancelled,
                    "rate": round(p.rate, 4), "flagged": positions.flagged(p)}
                   for p in positions.positions],
        overall_rate=round(positions.overall_rate, 4),
        alert_percent=positions.alert_percent)
