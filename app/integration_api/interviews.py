"""Interviews through the integration API: read one, cancel as the company, report the
outcome, the changes feed, the company-side cancel reasons."""
from __future__ import annotations

from flask import g, jsonify, request

from app.core.errors import ValidationFailed
from app.core.idempotency import idempotent
from app.core.timeutil import iso
from app.integration_api import bp, serializers
from app.integration_api.guards import key_required
from app.queries.interviews.candidate import company_cancel_reasons
from app.services.integration import feed
from app.services.integration import interviews as service
from miniprogram_api.views import json_body, string_field

READ, WRITE = "interviews:read", "interviews:write"


@bp.get("/cancel-reasons")
@key_required(READ)
def cancel_reasons():
    return jsonify(items=[{"code": r.code, "label": r.label, "category": r.category,
                           "requires_note": r.requires_note,
                           "note_max_length": r.note_max_length}
                          for r in company_cancel_reasons()])


@bp.get("/interviews/<ref>")
@key_required(READ)
def get_interview(ref: str):
    return jsonify(serializers.record(service.read_interview(g.actor, ref)))


@bp.post("/interviews/<ref>/cancel")
@key_required(WRITE, write=True)
@idempotent
def cancel_interview(ref: str):
    data = json_body()
    reason_code = string_field(data, "reason_code", max_length=40)
    note = string_field(data, "note", required=False, max_length=2000)
    outcome = service.cancel_interview(g.actor, ref, reason_code=reason_code, note=note)
    record = service.read_interview(g.actor, ref)
    return jsonify(status=outcome.status.value, interview=serializers.record(record))


@bp.post("/interviews/<ref>/outcome")
@key_required(WRITE, write=True)
@idempotent
def report_outcome(ref: str):
    outcome = json_body().get("outcome")
    if outcome not in service.OUTCOMES:
        raise ValidationFailed("outcome 只能是 completed（已完成）或 no_show（未到场）",
                               code="field_invalid", details={"field": "outcome"})
    result = service.report_outcome(g.actor, ref, outcome)
    return jsonify(changed=result.changed,
                   interview=serializers.interview(result.interview))


def _int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"{low} 到 {high}" if high is not None else f"不小于 {low}"
        raise ValidationFailed(f"参数 {name} 必须是{bound}的整数", code="field_invalid",
                               details={"field": name})
    return value


@bp.get("/changes")
@key_required(READ)
def changes():
    cursor = _int_arg("cursor", 0, 0, 2**62)
    limit = _int_arg("limit", feed.DEFAULT_LIMIT, 1, feed.MAX_LIMIT)
    page = feed.changes_since(g.actor, cursor, limit)
    return jsonify(items=[{"cursor": c.seq, "action": c.action, "at": iso(c.at),
                           "interview": {"external_id": c.external_id, "number": c.number,
                                         "status": c.status.value}}
                          for c in page.items],
                   next_cursor=page.next_cursor, has_more=page.has_more)
