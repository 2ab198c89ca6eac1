"""Binding a WeChat user to a candidate: by invitation token or by phone number."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from app.core import crypto
from app.core.errors import AppError, Conflict, NotFound, ServiceUnavailable, ValidationFailed
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Candidate, InviteToken, WechatAccount, WechatApp
from app.services import audit
from app.wechat.client import WeChatUnavailable, mini_program_client


class InviteInvalid(ValidationFailed):
    code = "invite_invalid"
    message = "邀请码无效，请检查面试邀请链接"


class InviteExpired(AppError):
    status = 410
    code = "invite_expired"
    message = "邀请码已过期，请联系招聘HR重新发送邀请"


class InviteUsed(Conflict):
    code = "invite_used"
    message = "邀请码已被使用，如非本人操作请联系招聘HR"


class AccountBoundToOther(Conflict):
    code = "account_bound_to_other"
    message = "该微信已绑定其他候选人，如需更换请联系招聘HR"


class CandidateBoundToOther(Conflict):
    code = "candidate_bound_to_other"
    message = "该候选人已绑定其他微信，如需更换请联系招聘HR"


class NotBoundToWechat(NotFound):
    code = "candidate_not_bound"
    message = "该候选人尚未绑定微信"


class PhoneCodeInvalid(ValidationFailed):
    code = "phone_code_invalid"
    message = "手机号授权已失效，请重新授权"


class PhoneNotMatched(NotFound):
    code = "phone_not_matched"
    message = "未找到与该手机号匹配的面试邀请，请使用邀请链接绑定或联系招聘HR"


def create_invite(candidate_id: int, *, ttl_hours: int = 72) -> str:
    """A one-time invitation token (returned once; only its hash is stored). Caller commits."""
    token = crypto.new_token(24)
    db.session.add(InviteToken(token_hash=crypto.token_hash(token), candidate_id=candidate_id,
                               expires_at=utcnow() + timedelta(hours=ttl_hours)))
    return token


def bind_by_invite(account_id: int, token: str, *, ip: str | None = None,
                   privacy_version: str | None = None) -> Candidate:
    """Use an invitation token: expired and used tokens are refused distinctly."""
    invite = db.session.scalars(select(InviteToken).where(
        InviteToken.token_hash == crypto.token_hash(token)).with_for_update()).first()
    if invite is None:
        raise InviteInvalid(details={"field": "invite_token"})
    account = db.session.get(WechatAccount, account_id)
    if invite.used_at is not None:
        if invite.used_by_account_id == account_id and account.candidate_id == invite.candidate_id:
            return account.candidate  # the same user tapping the link again
        raise InviteUsed(details={"field": "invite_token"})
    if invite.expires_at <= utcnow():
        raise InviteExpired(details={"field": "invite_token"})
    candidate = _bind(account, invite.candidate_id, method="invite", ip=ip,
                      privacy_version=privacy_version)
    invite.used_at = utcnow()
    invite.used_by_account_id = account_id
    db.session.commit()
    return candidate


def bind_by_phone(account_id: int, phone_code: str, *, ip: str | None = None,
                  privacy_version: str | None = None) -> Candidate:
    """Use wx getPhoneNumber's code: the number is matched by its keyed hash."""
    from app.services.candidates import privacy

    privacy.check_notice_version(privacy_version)  # before the paid phone-number call
    try:
        result = mini_program_client().call(lambda c: c.post(
            "wxa/business/getuserphonenumber", data={"code": phone_code},
            api_base_url=c.api_base + "/"))
    except WeChatClientException as exc:
        if exc.errcode in (40029, 40163, 40001):
            raise PhoneCodeInvalid(details={"field": "phone_code"}) from None
        raise ServiceUnavailable("微信手机号服务暂时不可用，请稍后再试") from None
    except WeChatUnavailable:
        raise ServiceUnavailable("微信手机号服务暂时不可用，请稍后再试") from None
    phone = (result.get("phone_info") or {}).get("purePhoneNumber")
    if not phone:
        raise PhoneCodeInvalid(details={"field": "phone_code"})
    matches = db.session.scalars(select(Candidate).where(
        Candidate.phone_hash == crypto.phone_lookup_hash(phone))).all()
    if len(matches) != 1:
        raise PhoneNotMatched()
    account = db.session.get(WechatAccount, account_id)
    candidate = _bind(account, matches[0].id, method="phone", ip=ip,
                      privacy_version=privacy_version)
    db.session.commit()
    return candidate


def _bind(account: WechatAccount, candidate_id: int, *, method: str,
          ip: str | None = None, privacy_version: str | None = None) -> Candidate:
    from app.services.candidates import privacy

    # the privacy notice accepted (PIPL): required when the privacy rules say so
    version = privacy.check_notice_version(privacy_version)
    if account.candidate_id is not None and account.candidate_id != candidate_id:
        raise AccountBoundToOther()
    other = db.session.scalars(select(WechatAccount).where(
        WechatAccount.app == WechatApp.MINI_PROGRAM, WechatAccount.candidate_id == candidate_id,
        WechatAccount.id != account.id)).first()
    if other is not None:
        raise CandidateBoundToOther()
    if account.candidate_id is None:
        account.candidate_id = candidate_id
        audit.record(actor_type="candidate", actor_id=candidate_id, action="candidate.bound",
                     object_type="candidate", object_id=candidate_id,
                     data={"method": method, "wechat_account_id": account.id}, ip=ip)
    privacy.record_consent(candidate_id, account.id, version, utcnow())
    return db.session.get(Candidate, candidate_id)


def bound_account(candidate_id: int) -> WechatAccount | None:
    """The mini-program WeChat account bound to this candidate, if any."""
    return db.session.scalars(select(WechatAccount).where(
        WechatAccount.app == WechatApp.MINI_PROGRAM,
        WechatAccount.candidate_id == candidate_id)).first()


def unbind_by_hr(candidate_id: int, *, actor_id: int, ip: str | None = None) -> int:
    """HR removes a candidate's WeChat binding (a wrong or lost phone). The account is
    logged out everywhere at once: its sessions carry the binding. The candidate binds
    again with a new invitation. Returns how many sessions were revoked."""
    from app.services.candidates.sessions import revoke_sessions

    account = bound_account(candidate_id)
    if account is None:
        raise NotBoundToWechat()
    account.candidate_id = None
    audit.record(actor_type="hr", actor_id=actor_id, action="candidate.unbound",
                 object_type="candidate", object_id=candidate_id,
                 data={"wechat_account_id": account.id}, ip=ip)
    # Before the commit, so no session acts on the old binding once it is gone; after it
    # too, for a login that came in between and copied the old binding into its session.
    revoked = revoke_sessions(account.id)
    db.session.commit()
    return revoked + revoke_sessions(account.id)
