"""WeChat sandbox: speaks WeChat's HTTP API for what we use (dev/test only)."""
from flask import Blueprint

bp = Blueprint("sandbox", __name__, template_folder="templates", static_folder="static")

from app.wechat.sandbox import routes  # noqa: E402,F401
