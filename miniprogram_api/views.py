"""Candidate API v1 routes: parse and validate, call one service or query, serialize."""
from __future__ import annotations

from flask import g, jsonify, request

from app.core.clean_input import is_clean_text  # noqa: F401 (integration_api imports it here)
from app.core.errors import ValidationFailed
from app.core.idempotency import idempotent
from app.core.ratelimit import client_ip, hit, limited
from app.core.request_context import current_request_id
from app.core.timeutil import iso, utcnow
from app.queries.interviews import candidate as queries
from app.services import cancellation
from app.services.candidates import binding, feedback, subscriptions
from app.services.candidates import sessions as mp_login
from app.services.interviews import confirm as attendance
from app.services.notifications import read as notifications
from app.services.rules.templates import effective_ids
from miniprogram_api import bp, serializers
from miniprogram_api.auth import candidate_required, login_required


@bp.url_value_preprocessor
def reject_unusable_ids(endpoint, values):
    """An id that cannot exist (NUL, surrogates, absurd length) is simply not found."""
    from app.services.interviews.errors import InterviewNotFound
    from app.services.notifications.read import NotificationNotFound

    for name, value in (values or {}).items():
        if isinstance(value, str) and (len(value) > 64 or not is_clean_text(value)):
            raise NotificationNotFound() if name == "open_token" else InterviewNotFound()


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", code="invalid_json")
    return data


def string_field(data: dict, name: str, *, required: bool = True, max_length: int = 2000
                 ) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"缺少必填字段 {name}", code="field_required",
                                   details={"field": name})
        return None
    if not isinstance(value, str) or not is_clean_text(value):
        raise ValidationFailed(f"字段 {name} 必须是有效的文本", code="field_invalid",
                               details={"field": name})
    if len(value) > max_length:
        raise ValidationFailed(f"字段 {name} 过长", code="field_too_long",
                               details={"field": name, "max_length": max_length})
    return value


def _candidate_json(candidate) -> dict | None:
    return {"name": candidate.name} if candidate else None


@bp.post("/auth/login")
@limited("login")
def login():
    code = string_field(json_body(), "code", max_length=128)
    # WeChat names the account only once the code is exchanged: its limit is counted
    # then, and a login refused by it never gets a session.
    session = mp_login.login(code, before_session=lambda account_id: hit(
        "login", "user", account_id))
    return jsonify(token=session.token, expires_in=session.expires_in,
                   bound=session.candidate is not None,
                   candidate=_candidate_json(session.candidate))


@bp.post("/auth/logout")
@login_required
def logout():
    mp_login.logout(request.headers["Authorization"].split(" ", 1)[1].strip())
    return "", 204


@bp.post("/auth/bind")
@login_required(limit="bind")
def bind():
    data = json_body()
    invite = string_field(data, "invite_token", required=False, max_length=128)
    phone_code = string_field(data, "phone_code", required=False, max_length=128)
    # the privacy-notice version accepted (app.services.candidates.privacy)
    version = string_field(data, "privacy_version", required=False, max_length=32)
    if bool(invite) == bool(phone_code):
        raise ValidationFailed("请提供 invite_token 或 phone_code 其中之一",
                               code="field_required", details={"field": "invite_token"})
    if invite:
        candidate = binding.bind_by_invite(g.mp_user.id, invite, ip=client_ip(),
                                           privacy_version=version)
    else:
        candidate = binding.bind_by_phone(g.mp_user.id, phone_code, ip=client_ip(),
                                          privacy_version=version)
    return jsonify(bound=True, candidate=_candidate_json(candidate))


@bp.get("/interviews")
@candidate_required
def list_interviews():
    now = utcnow()
    interviews = queries.candidate_interviews(g.candidate_id)
    states = queries.cancellation_states([iv.id for iv in interviews])
    items = [serializers.interview(iv, now, state=states.get(iv.id)) for iv in interviews]
    return jsonify(items=items)


@bp.get("/interviews/<public_id>")
@candidate_required
def get_interview(public_id: str):
    iv = queries.load_candidate_interview(g.candidate_id, public_id)
    body = serializers.interview(iv, utcnow(),
                                 state=queries.cancellation_states([iv.id]).get(iv.id))
    body["timeline"] = queries.interview_timeline(iv)
    return jsonify(body)


@bp.get("/cancel-reasons")
@candidate_required
def cancel_reasons():
    from app.services.rules import get_rules

    limit = get_rules().note_max_length
    return jsonify(items=[{"code": r.code, "label": r.label, "requires_note": r.requires_note,
                           "note_max_length": min(r.note_max_length, limit)}
                          for r in queries.candidate_cancel_reasons()])


@bp.post("/interviews/<public_id>/cancel")
@candidate_required(limit="cancel")
@idempotent
def cancel(public_id: str):
    data = json_body()
    reason_code = string_field(data, "reason_code", max_length=40)
    note = string_field(data, "note", required=False, max_length=2000)
    outcome = cancellation.cancel_by_candidate(
        candidate_id=g.candidate_id, interview_public_id=public_id,
        reason_code=reason_code, note=note, ip=client_ip(),
        request_id=current_request_id())
    return jsonify(status=outcome.status.value,
                   interview=serializers.interview(outcome.interview, utcnow(), outcome.rules),
                   cancellation={"state": outcome.state.value,
                                 "reason_code": outcome.reason.code,
                                 "reason_label": outcome.reason.label, "note": outcome.note})


@bp.post("/interviews/<public_id>/cancel-request/detail")
@candidate_required
def answer_cancel_detail(public_id: str):
    note = string_field(json_body(), "note", max_length=2000)
    cancellation.answer_detail(candidate_id=g.candidate_id, interview_public_id=public_id,
                               note=note, ip=client_ip())
    iv = queries.load_candidate_interview(g.candidate_id, public_id)
    return jsonify(interview=serializers.interview(iv, utcnow()))


@bp.post("/interviews/<public_id>/confirm")
@candidate_required
def confirm(public_id: str):
    iv = attendance.confirm_attendance(candidate_id=g.candidate_id,
                                       interview_public_id=public_id, ip=client_ip())
    return jsonify(interview=serializers.interview(iv, utcnow()),
                   confirmed_at=iso(iv.confirmed_at))


@bp.get("/subscriptions/templates")
@login_required
def subscription_templates():
    ids = effective_ids()  # HR's template ids (settings), else the configured ones
    # wx.requestSubscribeMessage accepts at most 3 template ids per call: one set per scene.
    keys = SUBSCRIBE_SCENES.get(request.args.get("scene", "cancel"), SUBSCRIBE_SCENES["cancel"])
    return jsonify(template_ids=[ids[k] for k in keys][:3])


SUBSCRIBE_SCENES = {
    "cancel": ("WECHAT_TPL_INTERVIEW_CANCELLED", "WECHAT_TPL_CANCEL_REQUEST",
               "WECHAT_TPL_INTERVIEW_CHANGED"),
    "schedule": ("WECHAT_TPL_CONFIRM_REMINDER", "WECHAT_TPL_SLOT_OFFER",
                 "WECHAT_TPL_INTERVIEW_CHANGED"),
}


@bp.post("/subscriptions")
@login_required(limit="subscriptions")
def record_subscriptions():
    results = json_body().get("results")
    if not isinstance(results, dict) or not results or len(results) > 3:
        raise ValidationFailed("results 必须是 1 到 3 个模板的订阅结果", code="field_invalid",
                               details={"field": "results"})
    for template_id, result in results.items():
        if (result not in subscriptions.RESULTS or not 0 < len(template_id) <= 64
                or not is_clean_text(template_id)):
            raise ValidationFailed("订阅结果只能是 accept、reject 或 ban",
                                   code="field_invalid", details={"field": "results"})
    # Only our templates are recorded: a user has at most one row per template we use,
    # whatever ids a client makes up.
    unknown = sorted(set(results) - set(effective_ids().values()))
    if unknown:
        raise ValidationFailed("包含本小程序未使用的订阅模板", code="field_invalid",
                               details={"field": "results", "unknown": unknown[:3]})
    granted = subscriptions.record_results(g.mp_user.openid, results)
    return jsonify(recorded=len(results), credits_granted=granted)


@bp.post("/notifications/<open_token>/open")
@candidate_required
def open_notification(open_token: str):
    row = notifications.record_open(candidate_id=g.candidate_id, open_token=open_token)
    return jsonify(opened=True, first_opened_at=iso(row.read_at), open_count=row.open_count,
                   interview_id=row.interview.public_id if row.interview else None)


@bp.post("/feedback")
@candidate_required(limit="feedback")
def submit_feedback():
    hit("feedback_daily", "user", g.mp_user.id)  # items per candidate per day
    data = json_body()
    content = string_field(data, "content", max_length=5000)
    interview_id = string_field(data, "interview_id", required=False, max_length=40)
    item = feedback.submit_feedback(candidate_id=g.candidate_id, content=content,
                                    interview_public_id=interview_id, ip=client_ip())
    return jsonify(id=item.id, received_at=iso(item.created_at)), 201
