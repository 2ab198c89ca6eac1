"""Feedback from candidates to HR: from the mini program (POST /feedback) and from the
Official Account (a follower's text message), and HR's answer to the latter.

Traps:
- an OA text names no candidate: the follower's Official Account openid is linked to one
  directly (wechat_accounts.candidate_id) or through its unionid (the mini-program
  identity with the same unionid is bound); neither: the text is not stored;
- HR answers an OA feedback with a customer-service message, which WeChat delivers only
  within 48 hours of the user's last message (our record: feedback_sources.received_at;
  WeChat's own answer 45015 says the same). The reply row and its audit entry are
  committed first and the message leaves after the commit, so a send is never lost from
  the record; a failed send is marked failed on the row.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from app.core.errors import AppError, NotFound, ValidationFailed
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    Feedback,
    FeedbackReply,
    FeedbackSource,
    Interview,
    WechatAccount,
    WechatApp,
)
from app.queries.candidates.feedback import feedback_scope, reply_windows
from app.queries.interviews.candidate import load_candidate_interview
from app.services import audit
from app.services.users.actor import Actor

log = logging.getLogger(__name__)

MAX_LENGTH = 1000
REPLY_MAX_LENGTH = 600           # a customer-service text is at most 2048 bytes


class FeedbackNotFound(NotFound):
    code = "feedback_not_found"
    message = "未找到该反馈"


class NotFromOfficialAccount(ValidationFailed):
    status = 409
    code = "feedback_not_from_oa"
    message = "该反馈来自小程序，无法通过公众号客服消息回复，请通过电话或短信联系候选人"


class ReplyWindowClosed(AppError):
    status = 409
    code = "customer_service_window_closed"
    message = ("候选人最后一次在公众号发消息已超过48小时，微信不允许再发送客服消息。"
               "请通过电话或短信联系候选人，或等候选人再次留言后回复。")


class ReplyFailed(AppError):
    status = 502
    code = "reply_send_failed"
    message = "回复未能发送到微信，请稍后重试"


def _checked(content: str | None, limit: int, field: str = "content") -> str:
    """The text without surrounding spaces: required, at most `limit` characters."""
    what = "反馈内容" if field == "content" else "回复内容"
    content = (content or "").strip()
    if not content:
        raise ValidationFailed(f"请填写{what}", code="field_required",
                               details={"field": field})
    if len(content) > limit:
        raise ValidationFailed(f"{what}最多{limit}个字", code="field_too_long",
                               details={"field": field, "max_length": limit})
    return content


def submit_feedback(*, candidate_id: int, content: str, interview_public_id: str | None = None,
                    ip: str | None = None) -> Feedback:
    """Store the text for HR, tied to the candidate's own interview when one is given."""
    content = _checked(content, MAX_LENGTH)
    interview_id = None
    if interview_public_id:
        interview_id = load_candidate_interview(candidate_id, interview_public_id).id
    item = Feedback(candidate_id=candidate_id, interview_id=interview_id, content=content)
    db.session.add(item)
    db.session.flush()
    audit.record(actor_type="candidate", actor_id=candidate_id, action="feedback.submitted",
                 object_type="interview" if interview_id else "candidate",
                 object_id=interview_id or candidate_id, data={"feedback_id": item.id},
                 ip=ip)
    db.session.commit()
    return item


# --- from the Official Account ------------------------------------------------------------

def candidate_of_oa_openid(openid: str) -> int | None:
    """The candidate behind an Official Account openid: linked directly, or through the
    unionid shared with their bound mini-program identity."""
    account = db.session.scalar(select(WechatAccount).where(
        WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.openid == openid))
    if account is None:
        return None
    if account.candidate_id is not None:
        return account.candidate_id
    if not account.unionid:
        return None
    return db.session.scalar(
        select(WechatAccount.candidate_id).where(
            WechatAccount.unionid == account.unionid, WechatAccount.candidate_id.is_not(None))
        .order_by(WechatAccount.id).limit(1))


def submit_from_oa(*, openid: str, content: str, msgid: str | None = None,
                   now: datetime | None = None) -> Feedback | None:
    """A follower's text becomes feedback on their latest interview (None: the follower
    is not a known candidate, nothing is stored). Text beyond MAX_LENGTH is cut."""
    candidate_id = candidate_of_oa_openid(openid)
    if candidate_id is None:
        return None
    content = (content or "").strip()[:MAX_LENGTH] or "（空消息）"
    interview_id = db.session.scalar(
        select(Interview.id).where(Interview.candidate_id == candidate_id)
        .order_by(Interview.scheduled_at.desc(), Interview.id.desc()).limit(1))
    item = Feedback(candidate_id=candidate_id, interview_id=interview_id, content=content)
    db.session.add(item)
    db.session.flush()
    db.session.add(FeedbackSource(feedback_id=item.id, app="oa", openid=openid,
                                  msgid=(msgid or None) and msgid[:64],
                                  received_at=now or utcnow()))
    audit.record(actor_type="candidate", actor_id=candidate_id, action="feedback.submitted",
                 object_type="interview" if interview_id else "candidate",
                 object_id=interview_id or candidate_id,
                 data={"feedback_id": item.id, "source": "公众号"})
    db.session.commit()
    return item


# --- HR answers ---------------------------------------------------------------------------

def reply_to_feedback(actor: Actor, feedback_id: int, content: str, *,
                      now: datetime | None = None) -> FeedbackReply:
    """HR answers a candidate's OA feedback with a customer-service message: the feedback
    must be in the actor's scope, from the Official Account, and the candidate's last
    message less than 48 hours old."""
    now = now or utcnow()
    if not actor.can("view"):
        raise FeedbackNotFound()
    item = db.session.scalar(select(Feedback).where(Feedback.id == feedback_id,
                                                    feedback_scope(actor)))
    if item is None:
        raise FeedbackNotFound()
    content = _checked(content, REPLY_MAX_LENGTH, field="reply")
    window = reply_windows([item.id]).get(item.id)
    if window is None:
        raise NotFromOfficialAccount()
    if not window.open(now):
        raise ReplyWindowClosed()
    reply = FeedbackReply(feedback_id=item.id, hr_user_id=actor.id, content=content,
                          status="sending")
    db.session.add(reply)
    item.handled_at = item.handled_at or now
    item.handled_by = item.handled_by or actor.id
    db.session.flush()
    audit.record(actor_type="hr", actor_id=actor.id, action="feedback.replied",
                 object_type="interview" if item.interview_id else "candidate",
                 object_id=item.interview_id or item.candidate_id, ip=actor.ip,
                 data={"feedback_id": item.id, "reply_id": reply.id})
    db.session.commit()
    _send(reply, window.openid, now)
    return reply


def _send(reply: FeedbackReply, openid: str, now: datetime) -> None:
    from wechatpy.exceptions import WeChatClientException

    from app.wechat.client import WeChatUnavailable, official_account_client

    body = {"touser": openid, "msgtype": "text", "text": {"content": reply.content}}
    error = None
    try:
        official_account_client().call(lambda c: c.post("message/custom/send", data=body))
    except WeChatClientException as exc:
        reply.status, reply.errcode = "failed", exc.errcode
        reply.error = f"{exc.errcode}：{exc.errmsg}"
        error = ReplyWindowClosed() if exc.errcode == 45015 else ReplyFailed(
            f"回复未能发送到微信（{exc.errcode}），请稍后重试")
    except WeChatUnavailable as exc:
        reply.status, reply.error = "failed", f"微信接口不可达：{exc}"
        error = ReplyFailed()
    except Exception as exc:  # any other failure is a failed send, never a row left sending
        log.exception("feedback reply %s: unexpected error while sending", reply.id)
        reply.status, reply.error = "failed", f"发送出错：{type(exc).__name__}"
        error = ReplyFailed()
    else:
        reply.status, reply.sent_at = "sent", now
    db.session.commit()
    log.info("feedback reply %s to %s: %s", reply.id, openid[:6] + "…", reply.status)
    if error is not None:
        raise error
