"""Text sent to the Official Account: HR commands, binding, and candidates' feedback.

`绑定 <code>` binds anyone who has a code; every other HR command needs a bound, active
HR user and runs through the console's services with that user's Actor, so the
console's permission and department-scope checks (and its audit entries) apply:
`同意 <面试编号> [意见]`, `驳回 <面试编号> <原因>`, `取消 <面试编号> <原因> [说明]`,
`查询 <面试编号或姓名>`, `解绑`, `帮助`. Anyone else who writes is treated as a candidate:
the text becomes feedback on their latest interview (candidates.feedback.submit_from_oa).

Traps: a command word must stand alone (`取消面试可以吗` from a candidate is feedback,
not a command), except `绑定` which people type glued to the code; an interview outside
the user's scope reads 未找到 like one that does not exist.
"""
from __future__ import annotations

import re

from app.core.errors import AppError
from app.core.timeutil import local
from app.models import HrUser
from app.queries.interviews.candidate import company_cancel_reasons
from app.queries.interviews.console import list_interviews
from app.queries.interviews.oa_lookup import interview_by_number, open_request_id
from app.services import cancellation
from app.services.candidates import feedback
from app.services.users import wechat_binding
from app.services.users.actor import Actor
from wechat_handlers.hr.binding import bound_text
from wechat_handlers.hr.common import HELP, NOT_BOUND, answers_in_chinese, hr_sender
from wechat_handlers.views import on_event

HR_WORDS = ("解绑", "帮助", "同意", "驳回", "取消", "查询")
BIND_WORD = "绑定"
_SPACES = re.compile(r"[\s\u3000]+")
QUERY_LIMIT = 5


def parse(content: str) -> tuple[str | None, str]:
    """(command word or None, the rest of the text)."""
    text = _SPACES.sub(" ", content or "").strip()
    if text.startswith(BIND_WORD):
        return BIND_WORD, text[len(BIND_WORD):].strip()
    word, _, rest = text.partition(" ")
    if word in HR_WORDS:
        return word, rest.strip()
    return None, text


def _first(rest: str) -> tuple[str, str]:
    head, _, tail = rest.partition(" ")
    return head.strip(), tail.strip()


class CommandUsage(AppError):
    status = 422
    code = "command_usage"


def _not_found(number: str) -> AppError:
    return AppError(f"未找到面试 {number}，请检查面试编号（如 AI-2026-12-03-001）",
                    code="interview_not_found", status=404)


# --- the commands -----------------------------------------------------------------------

def _approve(actor: Actor, user: HrUser, rest: str) -> str:
    number, comment = _first(rest)
    if not number:
        raise CommandUsage("请发送“同意 面试编号”，如：同意 AI-2026-12-03-001")
    request_id = _request_of(actor, number)
    outcome = cancellation.approve(actor, request_id, comment or None)
    return _decided("已同意", outcome, number)


def _reject(actor: Actor, user: HrUser, rest: str) -> str:
    number, comment = _first(rest)
    if not number or not comment:
        raise CommandUsage("请发送“驳回 面试编号 原因”，"
                           "如：驳回 AI-2026-12-03-001 面试时间无法调整")
    request_id = _request_of(actor, number)
    outcome = cancellation.reject(actor, request_id, comment)
    return _decided("已驳回", outcome, number)


def _request_of(actor: Actor, number: str) -> int:
    interview = interview_by_number(actor, number)
    if interview is None:
        raise _not_found(number)
    request_id = open_request_id(interview.id)
    if request_id is None:
        raise AppError(f"面试 {interview.number} 没有待审批的取消申请",
                       code="no_open_request", status=409)
    return request_id


def _decided(done: str, outcome, number: str) -> str:
    levels = len(outcome.request.approvals)
    level = f"（第{outcome.level}级）" if levels > 1 else ""
    text = f"{done}{level}：{outcome.request.interview.number}"
    if done == "已同意":
        text += "，面试已取消，已通知候选人。" if outcome.final else "，等待二级审批。"
    else:
        text += "，已通知候选人按原时间参加面试。"
    return text


def _cancel(actor: Actor, user: HrUser, rest: str) -> str:
    number, tail = _first(rest)
    reason_text, note = _first(tail)
    reasons = company_cancel_reasons()
    labels = "、".join(r.label for r in reasons)
    if not number or not reason_text:
        example = reasons[0].label if reasons else "面试官临时有事"
        raise CommandUsage("请发送“取消 面试编号 原因 [说明]”，"
                           f"如：取消 AI-2026-12-03-001 {example}。可用原因：{labels}")
    reason = next((r for r in reasons if reason_text in (r.code, r.label)), None)
    if reason is None:
        raise AppError(f"未知的取消原因“{reason_text}”。可用原因：{labels}",
                       code="invalid_reason", status=422)
    interview = interview_by_number(actor, number)
    if interview is None:
        raise _not_found(number)
    outcome = cancellation.cancel_by_hr(actor, interview.public_id, reason_code=reason.code,
                                        note=note or None)
    return (f"已取消面试 {outcome.interview.number}（原因：{reason.label}），"
            "已通知候选人和相关招聘团队。")


def _query(actor: Actor, user: HrUser, rest: str) -> str:
    if not rest:
        raise CommandUsage("请发送“查询 面试编号或姓名”，如：查询 AI-2026-12-03-001 或 查询 张三")
    page = list_interviews(q=rest, per_page=QUERY_LIMIT, actor=actor)
    if not page.rows:
        return f"没有找到与“{rest}”相符的面试。"
    lines = [f"找到 {page.total}{'+' if page.capped else ''} 场面试"
             + (f"，显示前 {QUERY_LIMIT} 场" if page.total > QUERY_LIMIT else "") + "："]
    for row in page.rows:
        iv = row.interview
        line = (f"{iv.number} {iv.candidate.name} {iv.position.title} "
                f"{_time(iv.scheduled_at)} {iv.status.label}")
        if row.cancellation is not None and row.cancellation.reason is not None:
            line += f"（{row.cancellation.reason.label}）"
        lines.append(line)
    return "\n".join(lines)


def _time(dt) -> str:
    return local(dt).strftime("%m月%d日 %H:%M")


def _help(actor: Actor, user: HrUser, rest: str) -> str:
    return f"{user.display_name}，您好。{HELP}"


COMMANDS = {"同意": _approve, "驳回": _reject, "取消": _cancel, "查询": _query,
            "帮助": _help}


# --- the handler ------------------------------------------------------------------------

@on_event("oa", "msg:text")
@answers_in_chinese
def text_message(raw: dict, xml: str) -> str | None:
    openid = str(raw.get("FromUserName") or "")
    content = str(raw.get("Content") or "")
    word, rest = parse(content)
    if word == BIND_WORD:
        if not rest:
            raise CommandUsage("请发送“绑定 绑定码”，绑定码在招聘后台“微信绑定”页面获取")
        return bound_text(wechat_binding.bind_by_code(openid, rest))
    sender = hr_sender(openid)
    if sender is None:
        if word is not None:
            return NOT_BOUND
        return candidate_text(openid, content, raw.get("MsgId"))
    user, actor = sender
    if word is None:
        return "未识别的指令。\n" + HELP
    if word == "解绑":  # the binding to remove is this openid's
        wechat_binding.unbind_self(openid)
        return _unbind_text()
    return COMMANDS[word](actor, user, rest)


def _unbind_text() -> str:
    return ("已解除本微信与招聘后台账号的绑定，您将不再在这里收到HR通知。"
            "如需重新绑定，请在招聘后台“微信绑定”页面获取新的绑定码。")


def candidate_text(openid: str, content: str, msgid) -> str:
    """A follower who is not an HR user wrote: feedback on their latest interview."""
    item = feedback.submit_from_oa(openid=openid, content=content,
                                   msgid=str(msgid) if msgid else None)
    if item is None:
        return ("您好，暂未查到与您的微信关联的面试。请先在“AI面试”小程序中登录并绑定，"
                "之后在这里留言，招聘HR会看到并回复。")
    return "已收到您的留言，招聘HR会尽快回复您。如需取消或改期面试，请在“AI面试”小程序中操作。"


OTHER_MESSAGES = ("image", "voice", "video", "shortvideo", "location", "link")


def other_message(raw: dict, xml: str) -> str:
    """Pictures, voice and the like are not read by anyone: say so, in one line."""
    return "目前仅支持文字消息，请用文字发送您的问题或指令（发送“帮助”查看HR指令）。"


for _type in OTHER_MESSAGES:
    on_event("oa", f"msg:{_type}")(other_message)

