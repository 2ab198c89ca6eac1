"""JSON shapes of the integration API (times ISO 8601 with the Asia/Shanghai offset)."""
from __future__ import annotations

from app.core.timeutil import iso
from app.models import ActorType, Cancellation, Interview, OutboxMessage
from app.services.integration.interviews import InterviewRecord

# Who cancelled, as the candidate API says it: the company is HR or its systems.
CANCELLED_BY = {ActorType.CANDIDATE.value: "candidate", ActorType.HR.value: "company",
                ActorType.INTEGRATION.value: "company", ActorType.SYSTEM.value: "system"}


def interview(iv: Interview) -> dict:
    return {
        "external_id": iv.external_id,
        "number": iv.number,
        "status": iv.status.value,
        "status_label": iv.status.label,
        "scheduled_at": iso(iv.scheduled_at),
        "duration_minutes": iv.duration_minutes,
        "position": {"external_id": iv.position.external_id, "title": iv.position.title,
                     "department": iv.position.department},
        "candidate": {"external_id": iv.candidate.external_ref, "name": iv.candidate.name},
        "confirmed_at": iso(iv.confirmed_at),
        "cancelled_at": iso(iv.cancelled_at),
    }


def cancellation(c: Cancellation | None) -> dict | None:
    if c is None:
        return None
    return {
        "cancelled_by": CANCELLED_BY.get(c.actor_type, "company"),
        "actor_type": c.actor_type,
        "reason_code": c.reason.code,
        "reason_label": c.reason.label,
        "note": c.note,
        "state": c.state.value,
        "state_label": c.state.label,
        "requested_at": iso(c.requested_at),
        "decided_at": iso(c.decided_at),
        "approvals": [{"level": a.level, "decision": a.decision.value,
                       "comment": a.comment, "decided_at": iso(a.decided_at)}
                      for a in c.approvals],
    }


def message(m: OutboxMessage) -> dict:
    return {
        "kind": m.kind,
        "recipient_type": m.recipient_type,
        "channel": m.channel,
        "status": m.status.value,
        "status_label": m.status.label,
        "queued_at": iso(m.created_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "read_at": iso(m.read_at),
    }


def record(r: InterviewRecord) -> dict:
    return {**interview(r.interview), "cancellation": cancellation(r.cancellation),
            "notifications": [message(m) for m in r.messages]}
