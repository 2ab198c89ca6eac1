"""Candidate API v1: rescheduling routes (slots within the window, move to a slot)."""
from __future__ import annotations

from flask import g, jsonify

from app.core.idempotency import idempotent
from app.core.ratelimit import client_ip
from app.core.timeutil import iso, utcnow
from app.queries.interviews import candidate as queries
from app.services.interviews import reschedule as rescheduling
from miniprogram_api import bp, serializers
from miniprogram_api.auth import candidate_required
from miniprogram_api.views import json_body, string_field


@bp.get("/interviews/<public_id>/reschedule-slots")
@candidate_required
def reschedule_slots(public_id: str):
    slots, window_end = rescheduling.reschedule_slots(g.candidate_id, public_id)
    return jsonify(items=[{"slot_id": str(s.id), "starts_at": iso(s.starts_at),
                           "ends_at": iso(s.ends_at), "remaining": s.capacity - s.booked}
                          for s in slots],
                   window_end=window_end.isoformat())


@bp.post("/interviews/<public_id>/reschedule")
@candidate_required
@idempotent
def reschedule(public_id: str):
    data = json_body()
    if isinstance(data.get("slot_id"), int) and not isinstance(data["slot_id"], bool):
        data["slot_id"] = str(data["slot_id"])  # the contract says string; tolerate numbers
    slot_id = string_field(data, "slot_id", max_length=20)
    outcome = rescheduling.reschedule_by_candidate(g.candidate_id, public_id, slot_id,
                                                   ip=client_ip())
    iv = queries.load_candidate_interview(g.candidate_id, public_id)
    return jsonify(interview=serializers.interview(iv, utcnow()),
                   previous_scheduled_at=iso(outcome.previous_scheduled_at))
