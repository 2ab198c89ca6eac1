"""Candidate API v1 routes: parse and validate, call one service or query, serialize."""
from __future__ import annotations

from flask import current_app, g, jsonify, request

from app.errors import ValidationFailed
from app.queries import candidate as queries
from app.services import cancellation, mp_login, subscriptions
from app.timeutil import utcnow
from miniprogram_api import bp, serializers
from miniprogram_api.auth import candidate_required, login_required
from miniprogram_api.idempotency import idempotent


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
    if not isinstance(value, str):
        raise ValidationFailed(f"字段 {name} 必须是字符串", code="field_invalid",
                               details={"field": name})
    if len(value) > max_length:
        raise ValidationFailed(f"字段 {name} 过长", code="field_too_long",
                               details={"field": name, "max_length": max_length})
    return value


@bp.post("/auth/login")
def login():
    code = string_field(json_body(), "code", max_length=128)
    session = mp_login.login(code)
    candidate = session.candidate
    return jsonify(token=session.token, expires_in=session.expires_in,
                   bound=candidate is not None,
                   candidate={"name": candidate.name} if candidate else None)


@bp.get("/interviews")
@candidate_required
def list_interviews():
    now = utcnow()
    items = [serializers.interview(iv, now) for iv in queries.candidate_interviews(g.candidate_id)]
    return jsonify(items=items)


@bp.get("/interviews/<public_id>")
@candidate_required
def get_interview(public_id: str):
    iv = cancellation.load_candidate_interview(g.candidate_id, public_id)
    return jsonify(serializers.interview(iv, utcnow()))


@bp.get("/cancel-reasons")
@candidate_required
def cancel_reasons():
    return jsonify(items=[{"code": r.code, "label": r.label, "requires_note": r.requires_note,
                           "note_max_length": r.note_max_length}
                          for r in queries.candidate_cancel_reasons()])


@bp.post("/interviews/<public_id>/cancel")
@candidate_required
@idempotent
def cancel(public_id: str):
    data = json_body()
    reason_code = string_field(data, "reason_code", max_length=40)
    note = string_field(data, "note", required=False, max_length=2000)
    outcome = cancellation.cancel_by_candidate(
        candidate_id=g.candidate_id, interview_public_id=public_id,
        reason_code=reason_code, note=note)
    iv = cancellation.load_candidate_interview(g.candidate_id, public_id)
    summary = queries.cancellation_summary(outcome.cancellation_id)
    return jsonify(status=outcome.status.value, interview=serializers.interview(iv, utcnow()),
                   cancellation={"state": outcome.state.value, **summary})


@bp.get("/subscriptions/templates")
@login_required
def subscription_templates():
    cfg = current_app.config
    # wx.requestSubscribeMessage accepts at most 3 template ids per call.
    ids = [cfg["WECHAT_TPL_INTERVIEW_CANCELLED"], cfg["WECHAT_TPL_CANCEL_REQUEST"],
           cfg["WECHAT_TPL_INTERVIEW_CHANGED"]][:3]
    return jsonify(template_ids=ids)


@bp.post("/subscriptions")
@login_required
def record_subscriptions():
    results = json_body().get("results")
    if not isinstance(results, dict) or not results or len(results) > 3:
        raise ValidationFailed("results 必须是 1 到 3 个模板的订阅结果", code="field_invalid",
                               details={"field": "results"})
    for template_id, result in results.items():
        if result not in subscriptions.RESULTS or len(template_id) > 64:
            raise ValidationFailed("订阅结果只能是 accept、reject 或 ban",
                                   code="field_invalid", details={"field": "results"})
    granted = subscriptions.record_results(g.mp_account.openid, results)
    return jsonify(recorded=len(results), credits_granted=granted)
