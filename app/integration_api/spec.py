"""GET /api/integration/v1/openapi.json: the OpenAPI 3.1 description (public)."""
from __future__ import annotations

from flask import jsonify

from app.integration_api import bp, openapi


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())
