"""Console: the reports (取消统计, 岗位取消率, 通知触达), in the user's departments, with
period / department / position filters; charts are drawn by static/reports.js from the
JSON each table carries, and every table exports as CSV and XLSX (app.console.exports)."""
from __future__ import annotations

from flask import redirect, render_template, url_for

from app.console import bp
from app.console.exports import REPORTS, build_tables, report_filters_from_args
from app.console.views import current_actor, permission_required
from app.core.errors import ValidationFailed
from app.core.timeutil import local, utcnow
from app.queries.interviews.console import filter_choices
from app.services.reports import figures
from app.services.reports.export import FORMATS

TABS = [(key, title) for key, (title, _, _) in REPORTS.items()]


@bp.get("/reports")
@permission_required("reports")
def reports():
    """The reports start at 取消统计."""
    return redirect(url_for("console.report", report_key="cancellations"))


@bp.get("/reports/<report_key>")
@permission_required("reports")
def report(report_key: str):
    """One report for the chosen period, department and position."""
    if report_key not in REPORTS:
        return render_template("console/error.html", title="未找到",
                               message="没有这个报表。"), 404
    actor = current_actor()
    figures.authorize(actor)
    error, status = None, 200
    try:
        filters = report_filters_from_args()
    except ValidationFailed as exc:
        error, status = exc.message, 422
        filters = figures.report_filters(today=local(utcnow()).date())
        tables = []
    else:
        tables = build_tables(report_key, actor, filters)
    return render_template("console/reports.html", report_key=report_key,
                           title=REPORTS[report_key][0], tabs=TABS, tables=tables,
                           filters=filters, error=error, formats=FORMATS,
                           choices=filter_choices(actor)), status
