"""Personal data lifecycle (PIPL), the candidate's and HR's side: the privacy rules, the
notice version accepted at binding, what we hold about a candidate (view and download),
and erasure requests with their deadline. The erasure itself is
app.services.candidates.anonymise (the same one the retention job uses).

Decisions (documented in README):
- an erasure request is due at the end of the N-th working day after it was made (rule
  `erasure_deadline_working_days`, default 15, on the working-day calendar with HR's
  overrides). HR may carry it out earlier from the console (permission "audit": admins
  and recruiting managers, in their departments); the privacy job carries out what is
  still pending when the deadline comes, so no request is ever late.
- the notice version is optional in /auth/bind unless `require_notice_version` is on;
  then it must be the current `notice_version` (an outdated one is refused, so the mini
  program shows the new notice first).

Traps: the rules live in one settings row (key "privacy"), read on every call like the
other rules; the department of a request is read when it is made (the data is gone after).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, time, timedelta

from sqlalchemy import select

from app.core.errors import AppError, Forbidden, NotFound, ValidationFailed
from app.core.timeutil import SHANGHAI, iso, local
from app.extensions import db
from app.models import (
    Cancellation,
    Candidate,
    ErasureRequest,
    ErasureStatus,
    Feedback,
    Interview,
    OutboxMessage,
    PrivacyConsent,
    Setting,
    WechatAccount,
)
from app.services import audit
from app.services.rules import calendar
from app.services.rules.store import all_errors, require_settings
from templates_msg.catalogue import TITLES

PRIVACY_KEY = "privacy"
PRIVACY_PERMISSION = "audit"   # who handles erasure requests (admins, recruiting managers)
VERSION_MAX = 32


@dataclass(frozen=True)
class PrivacyRules:
    retention_days: int = 180              # anonymise this long after the process ended
    erasure_deadline_working_days: int = 15
    notice_version: str = "2026-12"        # the privacy notice currently shown
    require_notice_version: bool = False   # /auth/bind must name the version accepted


LIMITS = {"retention_days": (30, 3650), "erasure_deadline_working_days": (1, 30)}
LABELS = {"retention_days": "个人信息保存期限（流程结束后天数）",
          "erasure_deadline_working_days": "删除申请处理期限（工作日）",
          "notice_version": "隐私政策版本号",
          "require_notice_version": "绑定时必须确认隐私政策版本"}
_KNOWN = frozenset(f.name for f in fields(PrivacyRules))


def get_privacy_rules() -> PrivacyRules:
    stored = db.session.get(Setting, PRIVACY_KEY)
    values = {k: v for k, v in ((stored.value if stored else None) or {}).items()
              if k in _KNOWN}
    return PrivacyRules(**values)


def _clean(name: str, value):
    label = LABELS.get(name, name)
    if name in LIMITS:
        low, high = LIMITS[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationFailed(f"{label}必须是 {low} 到 {high} 之间的整数",
                                   code="field_out_of_range", details={"field": name})
        return value
    if name == "notice_version":
        text = value.strip() if isinstance(value, str) else ""
        if not 0 < len(text) <= VERSION_MAX or not text.isprintable():
            raise ValidationFailed(f"{label}须为 1 到 {VERSION_MAX} 个字符",
                                   code="field_invalid", details={"field": name})
        return text
    if name == "require_notice_version":
        if not isinstance(value, bool):
            raise ValidationFailed(f"{label}须为是或否", code="field_invalid",
                                   details={"field": name})
        return value
    raise ValidationFailed(f"未知的设置项 {name}", code="unknown_setting",
                           details={"field": name})


def change_privacy_rules(actor, changes: dict, *, ip: str | None = None) -> PrivacyRules:
    """An admin changes the privacy rules (all checked, nothing saved when one is bad);
    audited with the values before and after."""
    require_settings(actor)
    clean, errors = {}, []
    for name, value in changes.items():
        try:
            clean[name] = _clean(name, value)
        except ValidationFailed as exc:
            errors.append(exc)
    if errors:
        raise all_errors(errors)
    before = asdict(get_privacy_rules())
    changed = {k: v for k, v in clean.items() if before[k] != v}
    if changed:
        stored = db.session.get(Setting, PRIVACY_KEY, with_for_update=True)
        if stored is None:
            stored = Setting(key=PRIVACY_KEY, value={})
            db.session.add(stored)
        stored.value = {**(stored.value or {}), **changed}
        stored.updated_by = actor.id
        audit.record(actor_type="hr", actor_id=actor.id, action="settings.privacy_changed",
                     object_type="settings", object_id=None, ip=ip,
                     data={"before": {k: before[k] for k in changed}, "after": changed})
    db.session.commit()
    return get_privacy_rules()


# --- consent at binding ---------------------------------------------------------------------

class PrivacyNoticeRequired(ValidationFailed):
    code = "privacy_notice_required"
    message = "请先阅读并同意最新的隐私政策"


def check_notice_version(version: str | None) -> str | None:
    """The version to record at binding (None: none given and none required). Raises
    PrivacyNoticeRequired when the rules require the current version and it is missing
    or outdated."""
    rules = get_privacy_rules()
    if rules.require_notice_version and version != rules.notice_version:
        raise PrivacyNoticeRequired(details={"field": "privacy_version",
                                             "current_version": rules.notice_version})
    return version


def record_consent(candidate_id: int, account_id: int | None, version: str | None,
                   now: datetime) -> None:
    """The notice version the candidate accepted and when (caller's transaction)."""
    if version:
        db.session.add(PrivacyConsent(candidate_id=candidate_id, wechat_account_id=account_id,
                                      notice_version=version[:VERSION_MAX], accepted_at=now))


# --- what we hold ---------------------------------------------------------------------------

def held_data(candidate_id: int, now: datetime) -> dict:
    """Everything we hold about this candidate, as they may read it (their own data only)."""
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFound("未找到候选人", code="candidate_not_found")
    interviews = db.session.scalars(select(Interview).where(
        Interview.candidate_id == candidate_id).order_by(Interview.scheduled_at)).all()
    iv_ids = [iv.id for iv in interviews]
    cancellations = db.session.scalars(select(Cancellation).where(
        Cancellation.interview_id.in_(iv_ids)).order_by(Cancellation.id)).all() if iv_ids else []
    by_interview: dict[int, list] = {}
    for c in cancellations:
        by_interview.setdefault(c.interview_id, []).append(c)
    accounts = db.session.scalars(select(WechatAccount).where(
        WechatAccount.candidate_id == candidate_id).order_by(WechatAccount.id)).all()
    feedback = db.session.scalars(select(Feedback).where(
        Feedback.candidate_id == candidate_id).order_by(Feedback.id)).all()
    messages = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient_type == "candidate",
        OutboxMessage.recipient_id == candidate_id).order_by(OutboxMessage.id)).all()
    consents = db.session.scalars(select(PrivacyConsent).where(
        PrivacyConsent.candidate_id == candidate_id).order_by(PrivacyConsent.id)).all()
    request = pending_request(candidate_id)
    rules = get_privacy_rules()
    return {
        "generated_at": iso(now),
        "candidate": {"name": candidate.name, "phone": candidate.phone,
                      "email": candidate.email},
        "wechat_accounts": [{"app": a.app.value, "openid": a.openid,
                             "bound_at": iso(a.created_at)} for a in accounts],
        "interviews": [{
            "number": iv.number, "position": iv.position.title,
            "department": iv.position.department, "scheduled_at": iso(iv.scheduled_at),
            "status": iv.status.value, "status_label": iv.status.label,
            "cancellations": [{"reason": c.reason.label, "note": c.note,
                               "state": c.state.value, "requested_at": iso(c.requested_at),
                               "detail_answer": c.detail_answer}
                              for c in by_interview.get(iv.id, [])],
        } for iv in interviews],
        "feedback": [{"content": f.content, "submitted_at": iso(f.created_at)}
                     for f in feedback],
        "messages": [{"title": TITLES.get(m.kind, m.kind), "channel": m.channel,
                      "status": m.status.value, "queued_at": iso(m.created_at),
                      "sent_at": iso(m.sent_at)} for m in messages],
        "consents": [{"notice_version": c.notice_version, "accepted_at": iso(c.accepted_at)}
                     for c in consents],
        "erasure_request": request_json(request),
        "retention_days": rules.retention_days,
    }


def export_data(candidate_id: int, now: datetime, *, ip: str | None = None) -> dict:
    """held_data() for download; the download is audited (without the data)."""
    data = held_data(candidate_id, now)
    audit.record(actor_type="candidate", actor_id=candidate_id, action="candidate.data_exported",
                 object_type="candidate", object_id=candidate_id, ip=ip)
    db.session.commit()
    return data


# --- erasure requests -----------------------------------------------------------------------

def erasure_due_at(requested_at: datetime, working_days: int) -> datetime:
    """The end (Beijing midnight) of the N-th working day after the request's day."""
    day = calendar.add_working_days(local(requested_at).date(), working_days)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def pending_request(candidate_id: int) -> ErasureRequest | None:
    return db.session.scalars(select(ErasureRequest).where(
        ErasureRequest.candidate_id == candidate_id,
        ErasureRequest.status == ErasureStatus.PENDING)).first()


def request_json(request: ErasureRequest | None) -> dict | None:
    if request is None:
        return None
    return {"status": request.status.value, "status_label": request.status.label,
            "requested_at": iso(request.requested_at), "due_at": iso(request.due_at)}


def request_erasure(candidate_id: int, now: datetime, *, ip: str | None = None
                    ) -> tuple[ErasureRequest, bool]:
    """The candidate asks for their personal data to be erased; asking again while one is
    pending returns it. Returns (request, created)."""
    candidate = db.session.get(Candidate, candidate_id, with_for_update=True)
    if candidate is None:
        raise NotFound("未找到候选人", code="candidate_not_found")
    existing = pending_request(candidate_id)
    if existing is not None:
        return existing, False
    department = db.session.scalars(
        select(Interview).where(Interview.candidate_id == candidate_id)
        .order_by(Interview.scheduled_at.desc())).first()
    rules = get_privacy_rules()
    request = ErasureRequest(candidate_id=candidate_id, status=ErasureStatus.PENDING,
                             department=department.position.department if department else None,
                             requested_at=now,
                             due_at=erasure_due_at(now, rules.erasure_deadline_working_days))
    db.session.add(request)
    db.session.flush()
    audit.record(actor_type="candidate", actor_id=candidate_id,
                 action="privacy.erasure_requested", object_type="erasure_request",
                 object_id=request.id, ip=ip, data={"due_at": iso(request.due_at)})
    db.session.commit()
    return request, True


class ErasureRequestNotFound(NotFound):
    code = "erasure_request_not_found"
    message = "未找到该删除申请"


class ErasureWithOpenInterviews(AppError):
    status = 409
    code = "erasure_open_interviews"
    message = ("该候选人还有未结束的面试，请先取消这些面试（候选人和面试团队会收到通知），"
               "再删除个人信息")


class ErasureAlreadyDone(AppError):
    status = 409
    code = "erasure_already_done"
    message = "该申请已处理，个人信息已删除"


def require_privacy(actor) -> None:
    if actor is None or not actor.is_hr or not actor.can(PRIVACY_PERMISSION):
        raise Forbidden("只有系统管理员和招聘经理可以处理个人信息删除申请",
                        code="privacy_forbidden")


def _in_scope(actor, request: ErasureRequest) -> bool:
    return actor.departments is None or request.department in actor.departments


def list_requests(actor, *, limit: int = 200) -> list[ErasureRequest]:
    """Erasure requests the user handles (pending first, by deadline), in their scope."""
    require_privacy(actor)
    rows = db.session.scalars(select(ErasureRequest).order_by(
        ErasureRequest.status, ErasureRequest.due_at, ErasureRequest.id).limit(limit)).all()
    return [r for r in rows if _in_scope(actor, r)]


def erase_by_hr(actor, request_id: int, now: datetime) -> ErasureRequest:
    """HR carries out an erasure request now (same anonymisation as the retention job);
    refused while the candidate has interviews not over yet: HR cancels them first."""
    from app.services.candidates.anonymise import anonymise

    require_privacy(actor)
    request = db.session.get(ErasureRequest, request_id, with_for_update=True)
    if request is None or not _in_scope(actor, request):
        raise ErasureRequestNotFound()
    if request.status == ErasureStatus.DONE:
        raise ErasureAlreadyDone()
    still_open = open_interviews([request.candidate_id]).get(request.candidate_id, 0)
    if still_open:
        # Erased first, the interview would stay scheduled for nobody, and nobody told.
        raise ErasureWithOpenInterviews(
            f"该候选人还有{still_open}场未结束的面试，请先取消这些面试（候选人和面试团队会"
            "收到通知），再删除个人信息", details={"open_interviews": still_open})
    anonymise(request.candidate_id, now, trigger="request", request=request,
              actor_type="hr", actor_id=actor.id, ip=actor.ip)
    db.session.commit()
    return request


def open_interviews(candidate_ids: list[int]) -> dict[int, int]:
    """How many interviews of each candidate are not over yet (scheduled, confirmed or
    with a pending cancel request): HR should cancel them before erasing."""
    from sqlalchemy import func

    from app.services.candidates.anonymise import OPEN_STATUSES

    if not candidate_ids:
        return {}
    return dict(db.session.execute(
        select(Interview.candidate_id, func.count(Interview.id))
        .where(Interview.candidate_id.in_(candidate_ids), Interview.status.in_(OPEN_STATUSES))
        .group_by(Interview.candidate_id)).all())


def working_days_left(request: ErasureRequest, now: datetime) -> int:
    """Working days from today until the deadline's day (0: due today or overdue)."""
    due_day = local(request.due_at).date() - timedelta(days=1)
    return calendar.working_days_between(local(now).date(), due_day)
