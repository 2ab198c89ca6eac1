"""WeChat sandbox: speaks WeChat's HTTP API for what we use (dev/test only)."""
from importlib.util import find_spec

from flask import Blueprint

bp = Blueprint("sandbox", __name__, template_folder="templates", static_folder="static")

# QR scenes, customer-service messages, and the user's side of the OA (HR binding, replies)
# The candidate's subscription popup and settings, pushed as WeChat's mp events
from app.wechat.sandbox import (  # noqa: E402,F401  # noqa: E402,F401  (+ OA user/info)
    mp_inbound,
    oa_inbound,
    oa_phone,
    oa_service,
    oauth,  # noqa: E402,F401  (OA web OAuth: mobile console)
    routes,  # noqa: E402,F401
    user_info,
)

# The phone simulator (another module, same blueprint) registers its routes when present.
if find_spec("app.wechat.sandbox.simulator") is not None:
    from app.wechat.sandbox import simulator  # noqa: E402,F401
