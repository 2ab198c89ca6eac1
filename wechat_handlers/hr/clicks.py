"""The HR menu's click buttons: short Chinese text for the bound user's scope, read with
the console's own queries (approval queue, cancellation report)."""
from __future__ import annotations

from datetime import date

from app.core.timeutil import local, utcnow
from app.queries.interviews.approvals import approval_queue
from app.queries.reports.cancellations import summary
from app.queries.reports.filters import ReportFilters
from app.services.users.actor import Actor
from wechat_handlers import menu
from wechat_handlers.hr.common import NOT_BOUND, answers_in_chinese, hr_sender
from wechat_handlers.views import on_event

LIST_LIMIT = 5
STATS_DAYS = 7
INITIATORS = (("candidate", "候选人"), ("company", "公司"), ("system", "系统"))


def _today() -> date:
    return local(utcnow()).date()


def pending(actor: Actor) -> str:
    items = approval_queue(actor, mine=True)
    if not items:
        return "目前没有等待您审批的取消申请。"
    lines = [f"待我审批：{len(items)} 条"]
    for item in items[:LIST_LIMIT]:
        iv = item.request.interview
        level = f" 第{item.level}级" if item.levels > 1 else ""
        lines.append(f"{iv.number} {iv.candidate.name} {iv.position.title}"
                     f"（{item.request.reason.label}）{level}")
    if len(items) > LIST_LIMIT:
        lines.append(f"……另有 {len(items) - LIST_LIMIT} 条，请打开“移动后台”查看")
    lines.append("回复“同意 面试编号”或“驳回 面试编号 原因”处理。")
    return "\n".join(lines)


def _initiators(counts: dict[str, int]) -> str:
    return "，".join(f"{label}{counts.get(code, 0)}" for code, label in INITIATORS)


def _reasons(found, limit: int = 3) -> str:
    return "、".join(f"{r.label}{r.count}" for r in found.by_reason[:limit])


def today(actor: Actor) -> str:
    day = _today()
    found = summary(actor, ReportFilters(day, day))
    total = sum(found.per_day.values())
    pending_count = len(approval_queue(actor, state="requested"))
    if not total:
        text = f"今日（{day:%m月%d日}）暂无取消的面试。"
    else:
        text = (f"今日（{day:%m月%d日}）取消 {total} 场：{_initiators(found.by_initiator)}。\n"
                f"主要原因：{_reasons(found)}。")
    return text + f"\n待审批的取消申请：{pending_count} 条。"


def stats(actor: Actor) -> str:
    if not actor.can("reports"):
        return "您的角色没有查看取消统计的权限。"
    f = ReportFilters.last_days(_today(), STATS_DAYS)
    found = summary(actor, f)
    total = sum(found.per_day.values())
    if not total:
        return f"近{STATS_DAYS}天（{f.date_from:%m月%d日}起）没有取消的面试。"
    busiest = max(found.per_day.items(), key=lambda kv: (kv[1], kv[0]))
    return (f"近{STATS_DAYS}天（{f.date_from:%m月%d日}—{f.date_to:%m月%d日}）取消 {total} 场\n"
            f"发起方：{_initiators(found.by_initiator)}\n"
            f"原因前三：{_reasons(found)}\n"
            f"最多的一天：{busiest[0][5:].replace('-', '月')}日 {busiest[1]} 场\n"
            "详细报表请在招聘后台“报表”查看。")


ANSWERS = {menu.KEY_PENDING: pending, menu.KEY_TODAY: today, menu.KEY_STATS: stats}


@on_event("oa", "click")
@answers_in_chinese
def clicked(raw: dict, xml: str) -> str | None:
    answer = ANSWERS.get(str(raw.get("EventKey") or ""))
    if answer is None:
        return None  # another module's button
    sender = hr_sender(str(raw.get("FromUserName") or ""))
    if sender is None:
        return NOT_BOUND
    return answer(sender[1])
