"""GET /api/mp/v1/openapi.json: the OpenAPI 3.1 description of this API (public)."""
from __future__ import annotations

from flask import jsonify

from miniprogram_api import bp, openapi


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())
