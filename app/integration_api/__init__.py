"""/api/integration/v1: the JSON API for the AI-interview platform, ATS or ERP (API keys).

Route modules register themselves on `bp`; app/__init__.py mounts it.
"""
from flask import Blueprint

bp = Blueprint("integration_api", __name__)

from app.integration_api import guards, interviews, reports, spec, upserts  # noqa: E402,F401
