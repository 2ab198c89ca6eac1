"""PUT /positions|sessions|candidates|interviews/{external_id}: create or update by the
other system's id (app.services.integration.upsert). 201 when created, 200 otherwise
(`changed` says whether anything differed); sending the same object again is harmless.
Send positions before their sessions, and candidates and positions before interviews."""
from __future__ import annotations

from flask import g, jsonify

from app.core.errors import ValidationFailed
from app.core.idempotency import idempotent
from app.core.timeutil import iso
from app.integration_api import bp, serializers
from app.integration_api.guards import key_required
from app.services.integration import upsert
from miniprogram_api.views import json_body

WRITE = "interviews:write"


def _position(p) -> dict:
    return {"external_id": p.external_id, "title": p.title, "department": p.department,
            "level": p.level, "is_senior": bool(p.is_senior),
            "cancel_requires_review": bool(p.cancel_requires_review)}


def _session(s) -> dict:
    return {"external_id": s.external_id,
            "position_external_id": s.position.external_id if s.position else None,
            "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at),
            "capacity": s.capacity, "booked": s.booked}


def _candidate(c) -> dict:
    return {"external_id": c.external_ref, "name": c.name}


def _invite(invite) -> dict | None:
    if invite is None:
        return None
    return {"token": invite.token, "link": invite.link, "qr_scene": invite.scene,
            "expires_at": iso(invite.expires_at)}


def _save(kind: str, external_id: str, shape):
    data = json_body()
    given = data.get("external_id")
    if given not in (None, "", external_id):
        raise ValidationFailed("请求体中的 external_id 与路径中的不一致",
                               code="external_id_mismatch", details={"field": "external_id"})
    result = getattr(upsert, f"save_{kind}")({**data, "external_id": external_id},
                                             actor=g.actor)
    body = {"created": result.created, "changed": result.changed,
            "fields": list(result.fields), kind: shape(result.obj)}
    if kind == "candidate":
        body["invite"] = _invite(result.invite)
    return jsonify(body), 201 if result.created else 200


@bp.put("/positions/<external_id>")
@key_required(WRITE, write=True)
@idempotent
def put_position(external_id: str):
    return _save("position", external_id, _position)


@bp.put("/sessions/<external_id>")
@key_required(WRITE, write=True)
@idempotent
def put_session(external_id: str):
    return _save("session", external_id, _session)


@bp.put("/candidates/<external_id>")
@key_required(WRITE, write=True)
@idempotent
def put_candidate(external_id: str):
    return _save("candidate", external_id, _candidate)


@bp.put("/interviews/<ref>")
@key_required(WRITE, write=True)
@idempotent
def put_interview(ref: str):
    # (`ref` like the other /interviews/{ref} routes; here it is always the external id)
    return _save("interview", ref, serializers.interview)
