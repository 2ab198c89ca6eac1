"""Candidate API v1: personal data (PIPL). What we hold about the candidate (view and a
JSON download) and the request to erase it. Only the candidate's own data: every read
selects by the session's candidate id. (OpenAPI entries: miniprogram_api.spec.)"""
from __future__ import annotations

import json

from flask import Response, g, jsonify

from app.core.ratelimit import client_ip
from app.core.timeutil import local, utcnow
from app.services.candidates import privacy
from miniprogram_api import bp
from miniprogram_api.auth import WRITE_SCOPE, candidate_required


@bp.get("/privacy/data")
@candidate_required
def privacy_data():
    return jsonify(privacy.held_data(g.candidate_id, utcnow()))


@bp.get("/privacy/data/export")
@candidate_required(limit=WRITE_SCOPE)  # each download is an audit entry: counted
def privacy_export():
    now = utcnow()
    data = privacy.export_data(g.candidate_id, now, ip=client_ip())
    name = f"personal-data-{local(now).strftime('%Y%m%d')}.json"
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/privacy/erasure-request")
@candidate_required
def privacy_erasure_request():
    request, created = privacy.request_erasure(g.candidate_id, utcnow(), ip=client_ip())
    return jsonify(erasure_request=privacy.request_json(request), created=created), (
        201 if created else 200)
