"""Candidate JSON API for the WeChat mini program, mounted at /api/mp/v1."""
from flask import Blueprint

bp = Blueprint("mp_api", __name__)

from miniprogram_api import views  # noqa: E402,F401
from miniprogram_api import reschedule  # noqa: E402,F401
from miniprogram_api import spec  # noqa: E402,F401
