"""Console report 重新安排承诺 (issue 11 §4): promises due in the period, kept / broken /
open, overall and per position; registered in app.console.exports.REPORTS, so the page,
its tabs and the CSV / XLSX exports are the reports' own."""
from __future__ import annotations

from app.queries.reports import promises
from app.services.reports import figures


def promise_report(actor, filters) -> promises.PromiseSummary:
    """The promises due in the period, in the actor's scope (reports permission)."""
    figures.authorize(actor)
    return promises.summary(actor, filters)


def promise_tables(report: promises.PromiseSummary) -> list:
    from app.console.exports import Table, pct, rate

    kept, broken, open_ = (report.total("kept"), report.total("broken"),
                           report.total("open"))
    overall = rate(report.kept_rate)
    rows = [[p.department, p.title, p.kept, p.broken, p.open, rate(p.kept_rate)]
            for p in report.positions]
    states = [["已兑现", kept, pct(kept, kept + broken + open_)],
              ["未兑现", broken, pct(broken, kept + broken + open_)],
              ["进行中", open_, pct(open_, kept + broken + open_)]]
    return [
        Table("promise_states", "重新安排承诺兑现情况", ["状态", "承诺数", "占比（%）"], states,
              {"type": "gauge", "series": [{"name": "兑现率", "data": [overall or 0]}]},
              note="统计期限落在所选周期内的重新安排承诺（公司取消并勾选“为候选人重新安排”）。"
                   "兑现：候选人在期限前预约了该岗位的新面试；未兑现：期限已过仍未安排；"
                   "兑现率 = 已兑现 / (已兑现 + 未兑现)"
                   + (f"，本期 {overall:.1f}%。" if overall is not None else "。")),
        Table("promise_positions", "各岗位承诺兑现",
              ["部门", "岗位", "已兑现", "未兑现", "进行中", "兑现率（%）"], rows,
              footer=["合计", "", kept, broken, open_, overall]),
    ]
