"""Candidate JSON API for the WeChat mini program, mounted at /api/mp/v1."""
from flask import Blueprint

bp = Blueprint("mp_api", __name__)

# Route modules register themselves on `bp`.
from miniprogram_api import privacy, reschedule, spec, views  # noqa: E402,F401
