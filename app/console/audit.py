"""The audit log viewer (/console/audit) and its CSV/XLSX export: who sees which entries
is decided in app.queries.audit.log.visible."""
from __future__ import annotations

from flask import abort, render_template, request

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.timeutil import local
from app.queries.audit import log
from app.services.audit import labels
from app.services.audit.access import record_audit_export
from app.services.reports import export

EXPORT_HEADERS = ["时间（北京时间）", "操作人", "IP", "操作", "对象", "修改前 → 修改后", "详情",
                  "封存序号", "记录编号"]


def _filters() -> log.AuditFilters:
    args = request.args
    return log.audit_filters(actor_type=args.get("actor_type"), actor=args.get("actor"),
                             action=args.get("action"), object_type=args.get("object_type"),
                             object_ref=args.get("object"), date_from=args.get("date_from"),
                             date_to=args.get("date_to"))


@bp.get("/audit")
@permission_required("audit")
def audit_log():
    """The entries this user may read, newest first, with filters and keyset pages."""
    filters = _filters()
    page = log.list_entries(current_actor(), filters,
                            before=log.page_bound(request.args.get("before")),
                            after=log.page_bound(request.args.get("after")))
    return render_template("console/audit.html", page=page, filters=filters,
                           actor_types=log.actor_type_choices(),
                           actions=labels.action_choices(),
                           object_types=log.object_type_choices())


@bp.get("/audit/export.<fmt>")
@permission_required("audit")
def audit_export(fmt: str):
    """Every entry of the current filters as CSV or XLSX, streamed."""
    if fmt not in export.FORMATS:
        abort(404)
    actor = current_actor()
    filters = _filters()
    record_audit_export(actor, fmt, filters.args(), ip=request.remote_addr)
    return export.download(fmt, "审计日志", EXPORT_HEADERS,
                           _cells(log.iter_entries(actor, filters)), sheet_title="审计日志")


def _cells(rows):
    for row in rows:
        yield [local(row.at), row.actor, row.ip, row.action, row.object, row.change_text(),
               row.detail_text(), row.seq, row.id]
