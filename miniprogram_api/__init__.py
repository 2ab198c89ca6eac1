"""Candidate JSON API for the WeChat mini program, mounted at /api/mp/v1."""
from flask import Blueprint

bp = Blueprint("mp_api", __name__)

# Route modules register themselves on `bp`.
# (offers: issue 11 §4-5)
from miniprogram_api import offers, privacy, reschedule, spec, views  # noqa: E402,F401
