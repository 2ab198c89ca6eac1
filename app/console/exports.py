"""What the reports show and export: each report's tables (Chinese headers, labelled rows)
and the charts drawn from them; CSV / XLSX downloads of a report table and of the
filtered interview list (streamed by app.services.reports.export)."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, request

from app.console import bp
from app.console.display import channel_label
from app.console.views import current_actor, filters_from_args, permission_required
from app.models import ActorType
from app.queries.interviews.console import CANCEL_STATUSES, iter_interviews
from app.services.reports import export, figures
from app.services.reports.downloads import record_export
from app.services.rules.reasons import CATEGORY_LABELS

INITIATOR_LABELS = {"candidate": "候选人", "company": "公司（HR）", "system": "系统"}


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list]
    chart: dict | None = None      # the ECharts spec drawn above the table (reports.js)
    note: str = ""
    footer: list | None = None     # a 合计 row shown and exported last
    meta: dict = field(default_factory=dict)

    def all_rows(self) -> list[list]:
        return self.rows + ([self.footer] if self.footer else [])


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def rate(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _share_rows(counts: dict[str, int], labels: dict[str, str]) -> list[list]:
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    return [[labels.get(k, k or "未分类"), n, pct(n, total)] for k, n in ordered]


def _pie(rows: list[list]) -> dict:
    return {"type": "pie", "series": [{"name": "取消数",
                                       "data": [{"name": r[0], "value": r[1]} for r in rows]}]}


def cancellation_tables(report: figures.CancellationReport) -> list[Table]:
    f = report.filters
    days = [d.isoformat() for d in f.days]
    weeks = [w.isoformat() for w in f.weeks]
    daily = [[d, report.per_day.get(d, 0)] for d in days]
    weekly = [[w, report.per_week.get(w, 0)] for w in weeks]
    total = report.total
    reasons = [[r.label, r.code, CATEGORY_LABELS.get(r.category, r.category), r.count,
                pct(r.count, total)] for r in report.by_reason]
    categories = _share_rows(report.by_category, CATEGORY_LABELS)
    initiators = _share_rows(report.by_initiator, INITIATOR_LABELS)
    return [
        Table("daily", "每日取消数", ["日期", "取消数"], daily,
              {"type": "line", "categories": days,
               "series": [{"name": "取消数", "data": [r[1] for r in daily]}]},
              footer=["合计", total]),
        Table("weekly", "每周取消数", ["周（周一）", "取消数"], weekly,
              {"type": "bar", "categories": weeks,
               "series": [{"name": "取消数", "data": [r[1] for r in weekly]}]},
              note="按自然周（周一至周日）统计，首尾两周可能不完整。",
              footer=["合计", total]),
        Table("reasons", "按取消原因", ["原因", "原因代码", "类别", "取消数", "占比（%）"],
              reasons,
              {"type": "hbar", "categories": [r[0] for r in reasons],
               "series": [{"name": "取消数", "data": [r[3] for r in reasons]}]}),
        Table("categories", "按原因类别", ["类别", "取消数", "占比（%）"], categories,
              _pie(categories)),
        Table("initiators", "按取消方", ["取消方", "取消数", "占比（%）"], initiators,
              _pie(initiators), note="公司：HR 在后台或公众号取消，以及公司系统经集成接口取消。"),
    ]


def position_tables(report: figures.PositionReport) -> list[Table]:
    overall = rate(report.overall_rate)
    rows = []
    for p in report.positions:
        mine = rate(p.rate)
        rows.append([p.department, p.title, p.interviews, p.cancelled, mine, overall,
                     round(mine - overall, 1), "是" if report.flagged(p) else "否"])
    shown = rows[:30]
    chart = {"type": "hbar", "unit": "%",
             "categories": [f"{r[1]}（{r[0]}）" for r in shown],
             "series": [{"name": "取消率", "data": [r[4] for r in shown]}],
             "flags": [r[7] == "是" for r in shown],
             "marks": [{"name": "整体取消率", "value": overall},
                       {"name": "预警线", "value": report.alert_percent}]}
    return [Table("positions", "各岗位取消率",
                  ["部门", "岗位", "面试数", "已取消", "取消率（%）", "整体取消率（%）",
                   "与整体相比（百分点）", "超过预警线"], rows, chart,
                  note=(f"按面试时间落在所选周期内的面试统计；取消率超过 "
                        f"{report.alert_percent}% 的岗位标记为预警（规则：取消率预警线）。"
                        + ("图中显示取消率最高的 30 个岗位。" if len(rows) > 30 else "")),
                  footer=["合计", "", report.interviews, report.cancelled, overall, overall,
                          0.0, ""],
                  meta={"flag_column": 7})]


def _funnel_row(label: str, c) -> list:
    return [label, c.queued, c.sent, c.delivered, c.opened, c.failed, rate(c.arrival_rate),
            rate(c.open_rate), seconds(c.notify_p50), seconds(c.notify_p95),
            seconds(c.open_p50), seconds(c.open_p95)]


def notification_tables(report: figures.NotificationReport,
                        unreachable=None) -> list[Table]:
    channels = [_funnel_row(channel_label(c.channel), c) for c in report.channels]
    stages = ["入队", "已发送", "已送达", "已读"]
    kept = report.promise
    unreachable = report.unreachable if unreachable is None else unreachable
    return [
        Table("channels", "各渠道通知漏斗",
              ["渠道", "入队", "已发送", "已送达", "已读", "失败", "送达率（%）", "打开率（%）",
               "通知用时P50（秒）", "通知用时P95（秒）", "打开用时P50（秒）", "打开用时P95（秒）"],
              channels,
              {"type": "grouped", "categories": stages,
               "series": [{"name": r[0], "data": r[1:5]} for r in channels]},
              note="送达率 = 已送达 / 已发送；打开率 = 已读 / 已送达；通知用时从事件发生"
                   "（消息入队）到发出，打开用时从发出到候选人打开。",
              footer=_funnel_row("合计", report.total)),
        Table("promise", f"{kept.minutes}分钟通知承诺",
              ["承诺时限（分钟）", "应通知", "按时通知", "达成率（%）"],
              [[kept.minutes, kept.due, kept.kept,
                None if kept.percent is None else round(kept.percent, 1)]],
              {"type": "gauge", "series": [{"name": "达成率",
                                            "data": [round(kept.percent or 0, 1)]}]},
              note="只统计发给候选人的消息；尚未发出且未超过时限的消息不计入。",
              meta={"more": ("console.notification_promise", "查看近24小时超时未通知的消息")}),
        Table("unreachable", "无法触达的候选人",
              ["面试编号", "候选人", "岗位", "部门", "消息数", "最近消息时间"],
              [[u.number, u.candidate, u.title, u.department, u.messages, u.last_at]
               for u in unreachable],
              note="所选周期内发给该候选人的消息全部发送失败或无法送达。",
              meta={"links": [u.public_id for u in unreachable]}),
    ]


REPORTS = {
    "cancellations": ("取消统计", figures.cancellation_report, cancellation_tables),
    "positions": ("岗位取消率", figures.position_report, position_tables),
    "notifications": ("通知触达", figures.notification_report, notification_tables),
}
# 重新安排承诺 kept / broken (issue 11 §4)
from app.console.promise_report import promise_report, promise_tables  # noqa: E402

REPORTS["promises"] = ("重新安排承诺", promise_report, promise_tables)


def build_tables(report_key: str, actor, filters, full: bool = False) -> list[Table]:
    """The tables of one report; `full`: every row (an export), not the page's first."""
    _, compute, tables = REPORTS[report_key]
    if report_key == "notifications" and full:
        return tables(compute(actor, filters, unreachable_limit=None))
    return tables(compute(actor, filters))


@bp.get("/reports/<report_key>/export/<table_key>.<fmt>")
@permission_required("reports")
def report_export(report_key: str, table_key: str, fmt: str):
    """One table of a report as CSV or XLSX, with the page's filters."""
    if report_key not in REPORTS or fmt not in export.FORMATS:
        abort(404)
    actor = current_actor()
    filters = report_filters_from_args()
    table = next((t for t in build_tables(report_key, actor, filters, full=True)
                  if t.key == table_key), None)
    if table is None:
        abort(404)
    record_export(actor, f"{report_key}.{table_key}", fmt, filters.args(),
                  ip=request.remote_addr)
    name = f"{REPORTS[report_key][0]}-{table.title}-{filters.date_from}至{filters.date_to}"
    return export.download(fmt, name, table.headers, table.all_rows(), sheet_title=table.title)


def report_filters_from_args():
    """The reports' filters from the query string (bad dates: a Chinese error page)."""
    return figures.report_filters(request.args.get("date_from"), request.args.get("date_to"),
                                  request.args.get("department"),
                                  _positive_int(request.args.get("position_id")))


def _positive_int(value: str | None) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 2**31 else None


INTERVIEW_HEADERS = ["面试编号", "候选人", "岗位", "部门", "面试时间", "状态", "取消方",
                     "取消原因", "取消说明", "取消时间"]


def _interview_cells(rows):
    for row in rows:
        cancelled = row.status in CANCEL_STATUSES and row.actor_type is not None
        yield [row.number, row.candidate, row.title, row.department, row.scheduled_at,
               row.status.label,
               _initiator(row.actor_type) if cancelled else None,
               row.reason if cancelled else None,
               row.note if cancelled else None,
               row.cancelled_at if cancelled else None]


def _initiator(actor_type: str) -> str:
    try:
        return ActorType(actor_type).label
    except ValueError:
        return actor_type


@bp.get("/interviews/export.<fmt>")
@permission_required("reports")
def interviews_export(fmt: str):
    """The interview list with its current filters, every matching row, streamed."""
    if fmt not in export.FORMATS:
        abort(404)
    actor = current_actor()
    filters = filters_from_args()
    record_export(actor, "interviews", fmt, filters.args(), ip=request.remote_addr)
    return export.download(fmt, "面试列表", INTERVIEW_HEADERS,
                           _interview_cells(iter_interviews(actor, filters)),
                           sheet_title="面试列表")
